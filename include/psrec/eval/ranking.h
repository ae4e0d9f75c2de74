/* ranking.h — top-K selection and ranking metrics for recommendation.
 *
 * TopK keeps the K best (score, item) pairs of a stream in a bounded min-heap
 * (memory O(K), no sort of the stream). Its order is exact so that any two
 * programs rank the same scores identically: higher score first; on equal
 * scores the smaller item index first; NaN scores are never kept.
 * RankingStats holds only plain sums in a double array, so the partial stats
 * of several processes add up (an allreduce of `sums`) to the whole.
 */
#ifndef PSREC_RANKING_H
#define PSREC_RANKING_H

#include <stddef.h>
#include <stdint.h>

#include "psrec/core/progress.h" /* NamedFigure */

/* ---- top-K selection */

/* The heap lives in scores/items (n of k slots used), worst pair at the
 * root. Change it only through the functions; a hot loop may read that,
 * once n == k, a score below scores[0] would be rejected (the scorer skips
 * those without a call). */
typedef struct {
    int k;
    int n;
    float *scores;
    uint32_t *items;
} TopK;

/* Makes an empty top-k of capacity k (k >= 1, asserted). Out of memory is
 * fatal. Release with topk_free. */
void topk_init(TopK *topk, int k);

/* Frees the buffers and zeroes *topk; a zeroed TopK is a no-op. */
void topk_free(TopK *topk);

/* Empties topk, keeping its capacity, to rank the next user. */
void topk_clear(TopK *topk);

/* Keeps (score, item) if it is among the k best offered since the last clear
 * under the order above; a NaN score is dropped. O(log k). Items are assumed
 * distinct; an item offered twice may be kept twice. */
void topk_offer(TopK *topk, float score, uint32_t item);

/* Writes the kept pairs best first to items_out and scores_out (both hold at
 * least topk->k entries, neither NULL) and returns how many there are
 * (min(k, non-NaN pairs offered)). topk is left unchanged. O(k log k). */
int topk_sorted(const TopK *topk, uint32_t *items_out, float *scores_out);

/* ---- ranking statistics */

enum { RANKING_N_CUTOFFS = 3, RANKING_MAX_CUTOFF = 20 };

/* The cutoffs K every @K metric is reported at: 5, 10, 20 (ascending). */
extern const int RANKING_CUTOFFS[RANKING_N_CUTOFFS];

/* Indices into RankingStats.sums; an @K sum takes RANKING_N_CUTOFFS slots,
 * one per cutoff in RANKING_CUTOFFS order. */
typedef enum {
    RANKING_SUM_SAMPLED_CASES,
    RANKING_SUM_AUC,
    RANKING_SUM_HR,
    RANKING_SUM_SAMPLED_NDCG = RANKING_SUM_HR + RANKING_N_CUTOFFS,
    RANKING_SUM_USERS = RANKING_SUM_SAMPLED_NDCG + RANKING_N_CUTOFFS,
    RANKING_SUM_PRECISION,
    RANKING_SUM_RECALL = RANKING_SUM_PRECISION + RANKING_N_CUTOFFS,
    RANKING_SUM_NDCG = RANKING_SUM_RECALL + RANKING_N_CUTOFFS,
    RANKING_SUM_MAP = RANKING_SUM_NDCG + RANKING_N_CUTOFFS,
    RANKING_FIELDS = RANKING_SUM_MAP + RANKING_N_CUTOFFS /* doubles, for reductions */
} RankingField;

/* Start from {0}. Sum several with an elementwise sum of `sums`. */
typedef struct {
    double sums[RANKING_FIELDS];
} RankingStats;

/* The means ranking_mean reports. HR, NDCG_SAMPLED and AUC come from the
 * sampled protocol, the others from the full-ranking one. */
typedef enum {
    RANKING_HR,
    RANKING_NDCG_SAMPLED,
    RANKING_AUC,
    RANKING_PRECISION,
    RANKING_RECALL,
    RANKING_NDCG,
    RANKING_MAP
} RankingMetric;

/* Sampled protocol: adds one held-out (user, item) case ranked against
 * n_negatives >= 1 (asserted) sampled negatives. Ties count against the
 * positive, so a model scoring everything alike gets HR 0, not 1:
 * rank = #negatives not strictly below the positive (a NaN on either side
 * counts as above). HR@K = [rank < K], NDCG@K = [rank < K] / log2(rank + 2),
 * AUC = (#strictly below + 0.5 * #equal) / n_negatives. */
void ranking_add_sampled(RankingStats *stats, float positive_score,
                         const float *negative_scores, int n_negatives);

/* Full-ranking protocol: adds one user whose ranked list, best first, is
 * top_items[0..n_top) (only the first RANKING_MAX_CUTOFF are read; n_top may
 * be smaller) and whose held-out items are relevant[0..n_relevant), distinct,
 * in any order. With binary relevance and hits(K) = relevant items in the
 * first K: Precision@K = hits / K, Recall@K = hits / n_relevant,
 * NDCG@K = DCG / IDCG with DCG = sum over hit ranks r < K of 1/log2(r + 2)
 * and IDCG = sum over r < min(K, n_relevant) of 1/log2(r + 2),
 * MAP@K = sum over hit ranks r < K of (hits(r + 1) / (r + 1)),
 *         divided by min(K, n_relevant).
 * A user with n_relevant == 0 adds nothing, not even to the user count. */
void ranking_add_full(RankingStats *stats, const uint32_t *top_items, int n_top,
                      const uint32_t *relevant, int n_relevant);

/* Mean of metric at cutoff k over the cases of its protocol; NaN when that
 * protocol has no cases. k must be one of RANKING_CUTOFFS (asserted) except
 * for RANKING_AUC, which ignores it. */
double ranking_mean(const RankingStats *stats, RankingMetric metric, int k);

/* Sampled: hr, sampled_ndcg per cutoff, auc, cases; full: precision,
 * recall, ndcg, map per cutoff, users. */
enum { RANKING_MAX_FIGURES = (2 * RANKING_N_CUTOFFS + 2) + (4 * RANKING_N_CUTOFFS + 1) };


/* Fills out with the means named for JSON output, prefixed by split ("valid",
 * "test"; the name must fit, asserted): <split>_hr_<K>,
 * <split>_sampled_ndcg_<K>, <split>_auc, <split>_sampled_cases for the
 * sampled protocol; <split>_precision_<K>, <split>_recall_<K>,
 * <split>_ndcg_<K> (full-ranking NDCG, the one published full-ranking
 * figures use), <split>_map_<K>, <split>_users for the full one. A protocol
 * without cases is skipped. Writes at most max figures and returns how many
 * there are (at most RANKING_MAX_FIGURES), which may exceed max. */
int ranking_figures(const RankingStats *stats, const char *split, NamedFigure *out, int max);

/* Fraction of the n_items entries of item_seen that are nonzero, e.g. the
 * catalogue coverage of everyone's top-K; 0 when n_items is 0. */
double ranking_coverage(const uint8_t *item_seen, size_t n_items);

#endif
