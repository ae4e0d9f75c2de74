/* ranking.c — bounded top-K heap and summed ranking metrics.
 *
 * The heap keeps its worst pair at the root, so a new pair only has to beat
 * the root to get in. Metric sums are per case; means divide by the case
 * count only at the end, which is what lets partial stats add up.
 */
#include "psrec/eval/ranking.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psrec/core/util.h"

const int RANKING_CUTOFFS[RANKING_N_CUTOFFS] = {5, 10, 20};

/* ---- top-K selection */

/* The one order everybody ranks by: higher score, then smaller item. */
static bool pair_better(float score_a, uint32_t item_a, float score_b, uint32_t item_b)
{
    return score_a > score_b || (score_a == score_b && item_a < item_b);
}

static void heap_swap(float *scores, uint32_t *items, int a, int b)
{
    float score = scores[a];
    uint32_t item = items[a];
    scores[a] = scores[b];
    items[a] = items[b];
    scores[b] = score;
    items[b] = item;
}

/* Restores "every parent is worse than its children" below slot i. */
static void heap_sift_down(float *scores, uint32_t *items, int n, int i)
{
    for (;;) {
        int worst = i;
        for (int child = 2 * i + 1; child <= 2 * i + 2 && child < n; child++)
            if (pair_better(scores[worst], items[worst], scores[child], items[child]))
                worst = child;
        if (worst == i)
            return;
        heap_swap(scores, items, i, worst);
        i = worst;
    }
}

static void heap_sift_up(float *scores, uint32_t *items, int i)
{
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!pair_better(scores[parent], items[parent], scores[i], items[i]))
            return;
        heap_swap(scores, items, i, parent);
        i = parent;
    }
}

void topk_init(TopK *topk, int k)
{
    assert(k >= 1);
    topk->k = k;
    topk->n = 0;
    topk->scores = xmalloc((size_t)k * sizeof *topk->scores);
    topk->items = xmalloc((size_t)k * sizeof *topk->items);
}

void topk_free(TopK *topk)
{
    free(topk->scores);
    free(topk->items);
    memset(topk, 0, sizeof *topk);
}

void topk_clear(TopK *topk)
{
    topk->n = 0;
}

void topk_offer(TopK *topk, float score, uint32_t item)
{
    if (isnan(score))
        return;
    if (topk->n < topk->k) {
        topk->scores[topk->n] = score;
        topk->items[topk->n] = item;
        heap_sift_up(topk->scores, topk->items, topk->n++);
    } else if (pair_better(score, item, topk->scores[0], topk->items[0])) {
        topk->scores[0] = score;
        topk->items[0] = item;
        heap_sift_down(topk->scores, topk->items, topk->n, 0);
    }
}

int topk_sorted(const TopK *topk, uint32_t *items_out, float *scores_out)
{
    int n = topk->n;
    memcpy(scores_out, topk->scores, (size_t)n * sizeof *scores_out);
    memcpy(items_out, topk->items, (size_t)n * sizeof *items_out);
    /* Heapsort of the copy: the worst pair moves to the back each round. */
    for (int end = n - 1; end > 0; end--) {
        heap_swap(scores_out, items_out, 0, end);
        heap_sift_down(scores_out, items_out, end, 0);
    }
    return n;
}

/* ---- ranking statistics */

static double rank_discount(int rank)
{
    return 1.0 / log2(rank + 2.0);
}

void ranking_add_sampled(RankingStats *stats, float positive_score,
                         const float *negative_scores, int n_negatives)
{
    assert(n_negatives >= 1);
    int below = 0, equal = 0;
    for (int j = 0; j < n_negatives; j++) {
        if (negative_scores[j] < positive_score)
            below++;
        else if (negative_scores[j] == positive_score)
            equal++;
    }
    int rank = n_negatives - below; /* ties and NaN rank above the positive */
    double *sums = stats->sums;
    for (int c = 0; c < RANKING_N_CUTOFFS; c++) {
        if (rank < RANKING_CUTOFFS[c]) {
            sums[RANKING_SUM_HR + c] += 1.0;
            sums[RANKING_SUM_SAMPLED_NDCG + c] += rank_discount(rank);
        }
    }
    sums[RANKING_SUM_AUC] += (below + 0.5 * equal) / n_negatives;
    sums[RANKING_SUM_SAMPLED_CASES] += 1.0;
}

static bool item_is_relevant(uint32_t item, const uint32_t *relevant, int n_relevant)
{
    for (int j = 0; j < n_relevant; j++)
        if (relevant[j] == item)
            return true;
    return false;
}

void ranking_add_full(RankingStats *stats, const uint32_t *top_items, int n_top,
                      const uint32_t *relevant, int n_relevant)
{
    if (n_relevant <= 0)
        return;
    assert(RANKING_CUTOFFS[RANKING_N_CUTOFFS - 1] == RANKING_MAX_CUTOFF);
    double *sums = stats->sums;
    int hits = 0, c = 0;
    double dcg = 0, ideal_dcg = 0, precision_sum = 0;
    /* One pass down the list; the figures @K are read off after rank K-1. */
    for (int rank = 0; rank < RANKING_MAX_CUTOFF; rank++) {
        if (rank < n_top && item_is_relevant(top_items[rank], relevant, n_relevant)) {
            hits++;
            dcg += rank_discount(rank);
            precision_sum += (double)hits / (rank + 1);
        }
        if (rank < n_relevant)
            ideal_dcg += rank_discount(rank);
        int k = RANKING_CUTOFFS[c];
        if (rank + 1 == k) {
            int best_possible = k < n_relevant ? k : n_relevant;
            sums[RANKING_SUM_PRECISION + c] += (double)hits / k;
            sums[RANKING_SUM_RECALL + c] += (double)hits / n_relevant;
            sums[RANKING_SUM_NDCG + c] += dcg / ideal_dcg;
            sums[RANKING_SUM_MAP + c] += precision_sum / best_possible;
            c++;
        }
    }
    sums[RANKING_SUM_USERS] += 1.0;
}

/* Where each metric's sums are and which count divides them. */
static const struct {
    RankingField sum;
    RankingField count;
    bool per_cutoff;
} METRIC_SUMS[] = {
    [RANKING_HR] = {RANKING_SUM_HR, RANKING_SUM_SAMPLED_CASES, true},
    [RANKING_NDCG_SAMPLED] = {RANKING_SUM_SAMPLED_NDCG, RANKING_SUM_SAMPLED_CASES, true},
    [RANKING_AUC] = {RANKING_SUM_AUC, RANKING_SUM_SAMPLED_CASES, false},
    [RANKING_PRECISION] = {RANKING_SUM_PRECISION, RANKING_SUM_USERS, true},
    [RANKING_RECALL] = {RANKING_SUM_RECALL, RANKING_SUM_USERS, true},
    [RANKING_NDCG] = {RANKING_SUM_NDCG, RANKING_SUM_USERS, true},
    [RANKING_MAP] = {RANKING_SUM_MAP, RANKING_SUM_USERS, true},
};

double ranking_mean(const RankingStats *stats, RankingMetric metric, int k)
{
    assert(metric >= 0 && metric < (int)(sizeof METRIC_SUMS / sizeof METRIC_SUMS[0]));
    int field = METRIC_SUMS[metric].sum;
    if (METRIC_SUMS[metric].per_cutoff) {
        int c = 0;
        while (c < RANKING_N_CUTOFFS && RANKING_CUTOFFS[c] != k)
            c++;
        assert(c < RANKING_N_CUTOFFS);
        field += c;
    }
    double count = stats->sums[METRIC_SUMS[metric].count];
    return count > 0 ? stats->sums[field] / count : NAN;
}

/* Appends "<split>_<label>[_<k>]" = value if there is room; counts it anyway. */
static void figure_put(NamedFigure *out, int max, int *n, const char *split,
                       const char *label, int k, double value)
{
    if (*n < max) {
        NamedFigure *figure = &out[*n];
        int length = k > 0 ? snprintf(figure->name, sizeof figure->name, "%s_%s_%d", split, label, k)
                           : snprintf(figure->name, sizeof figure->name, "%s_%s", split, label);
        assert(length > 0 && (size_t)length < sizeof figure->name);
        (void)length;
        figure->value = value;
    }
    (*n)++;
}

static void figure_put_metric(NamedFigure *out, int max, int *n, const RankingStats *stats,
                              const char *split, const char *label, RankingMetric metric)
{
    if (!METRIC_SUMS[metric].per_cutoff) {
        figure_put(out, max, n, split, label, 0, ranking_mean(stats, metric, 0));
        return;
    }
    for (int c = 0; c < RANKING_N_CUTOFFS; c++)
        figure_put(out, max, n, split, label, RANKING_CUTOFFS[c],
                   ranking_mean(stats, metric, RANKING_CUTOFFS[c]));
}

int ranking_figures(const RankingStats *stats, const char *split, NamedFigure *out, int max)
{
    int n = 0;
    double cases = stats->sums[RANKING_SUM_SAMPLED_CASES];
    if (cases > 0) {
        figure_put_metric(out, max, &n, stats, split, "hr", RANKING_HR);
        figure_put_metric(out, max, &n, stats, split, "sampled_ndcg", RANKING_NDCG_SAMPLED);
        figure_put_metric(out, max, &n, stats, split, "auc", RANKING_AUC);
        figure_put(out, max, &n, split, "sampled_cases", 0, cases);
    }
    double users = stats->sums[RANKING_SUM_USERS];
    if (users > 0) {
        figure_put_metric(out, max, &n, stats, split, "precision", RANKING_PRECISION);
        figure_put_metric(out, max, &n, stats, split, "recall", RANKING_RECALL);
        figure_put_metric(out, max, &n, stats, split, "ndcg", RANKING_NDCG);
        figure_put_metric(out, max, &n, stats, split, "map", RANKING_MAP);
        figure_put(out, max, &n, split, "users", 0, users);
    }
    return n;
}

double ranking_coverage(const uint8_t *item_seen, size_t n_items)
{
    if (n_items == 0)
        return 0.0;
    size_t seen = 0;
    for (size_t i = 0; i < n_items; i++)
        seen += item_seen[i] != 0;
    return (double)seen / (double)n_items;
}
