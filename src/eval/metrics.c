/* metrics.c — RMSE and MAE from summed errors. */
#include "psrec/eval/metrics.h"

#include <math.h>

void error_stats_add(ErrorStats *stats, double prediction, double truth)
{
    double error = prediction - truth;
    stats->sums[ERROR_STATS_SQUARED_ERROR] += error * error;
    stats->sums[ERROR_STATS_ABSOLUTE_ERROR] += fabs(error);
    stats->sums[ERROR_STATS_COUNT] += 1.0;
}

double error_stats_rmse(const ErrorStats *stats)
{
    double count = stats->sums[ERROR_STATS_COUNT];
    return count > 0 ? sqrt(stats->sums[ERROR_STATS_SQUARED_ERROR] / count) : 0.0;
}

double error_stats_mae(const ErrorStats *stats)
{
    double count = stats->sums[ERROR_STATS_COUNT];
    return count > 0 ? stats->sums[ERROR_STATS_ABSOLUTE_ERROR] / count : 0.0;
}
