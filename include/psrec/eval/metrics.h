/* metrics.h — accuracy metrics for rating prediction.
 *
 * ErrorStats accumulates squared and absolute errors as plain sums, so the
 * partial sums of several workers add up (an allreduce of the three fields)
 * to exactly the figures one process would compute.
 */
#ifndef PSREC_METRICS_H
#define PSREC_METRICS_H

typedef struct {
    double sum_squared_error;
    double sum_absolute_error;
    double count;
} ErrorStats;

#define ERROR_STATS_FIELDS 3 /* doubles in ErrorStats, for reductions */

void error_stats_add(ErrorStats *stats, double prediction, double truth);

/* Root mean squared error; 0 when empty. */
double error_stats_rmse(const ErrorStats *stats);

/* Mean absolute error; 0 when empty. */
double error_stats_mae(const ErrorStats *stats);

#endif
