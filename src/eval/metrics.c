/* metrics.c — RMSE and MAE from summed errors. */
#include "psrec/eval/metrics.h"

#include <math.h>

void error_stats_add(ErrorStats *stats, double prediction, double truth)
{
    double error = prediction - truth;
    stats->sum_squared_error += error * error;
    stats->sum_absolute_error += fabs(error);
    stats->count += 1.0;
}

double error_stats_rmse(const ErrorStats *stats)
{
    return stats->count > 0 ? sqrt(stats->sum_squared_error / stats->count) : 0.0;
}

double error_stats_mae(const ErrorStats *stats)
{
    return stats->count > 0 ? stats->sum_absolute_error / stats->count : 0.0;
}
