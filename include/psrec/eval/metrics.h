/* metrics.h — accuracy metrics for rating prediction.
 *
 * ErrorStats accumulates squared and absolute errors as plain sums, so the
 * partial sums of several workers add up (an allreduce of the sums array)
 * to exactly the figures one process would compute. It is nothing but a
 * double array, so reducing it through `sums` is well defined.
 */
#ifndef PSREC_METRICS_H
#define PSREC_METRICS_H

/* Indices into ErrorStats.sums. */
enum {
    ERROR_STATS_SQUARED_ERROR,
    ERROR_STATS_ABSOLUTE_ERROR,
    ERROR_STATS_COUNT,
    ERROR_STATS_FIELDS /* doubles in ErrorStats, for reductions */
};

typedef struct {
    double sums[ERROR_STATS_FIELDS];
} ErrorStats;

void error_stats_add(ErrorStats *stats, double prediction, double truth);

/* Root mean squared error; 0 when empty. */
double error_stats_rmse(const ErrorStats *stats);

/* Mean absolute error; 0 when empty. */
double error_stats_mae(const ErrorStats *stats);

#endif
