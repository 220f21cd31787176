/* Softmax cross-entropy with optional label smoothing, the mean over the
 * batch, as torch.nn.CrossEntropyLoss(label_smoothing=eps):
 *
 *   target q_k = (1 - eps) [k == y] + eps / K
 *   loss       = -(1/N) sum_i sum_k q_ik log softmax(z_i)_k
 *   dloss/dz_i = (softmax(z_i) - q_i) / N
 *
 * log softmax is z - max - log(sum exp(z - max)): no overflow for large
 * logits, no log(0) for very negative ones.
 */
#include <math.h>

#include "internal.h"

/* logits (N,K), labels (N) -> mean loss; probs (N,K) */
double NN(xent_forward)(int n, int k, const real *logits, const int32_t *labels,
			double smoothing, real *probs)
{
	double total = 0;

	for (int i = 0; i < n; i++) {
		const real *z = logits + (size_t)i * k;
		real *pr = probs + (size_t)i * k;
		double mx = z[0], sum = 0, lse, sum_logp = 0;

		for (int j = 1; j < k; j++)
			if (z[j] > mx)
				mx = z[j];
		for (int j = 0; j < k; j++)
			sum += exp(z[j] - mx);
		lse = mx + log(sum);
		for (int j = 0; j < k; j++) {
			pr[j] = (real)exp(z[j] - lse);
			sum_logp += z[j] - lse;
		}
		total += -(1 - smoothing) * (z[labels[i]] - lse) - smoothing / k * sum_logp;
	}
	return total / n;
}

/* probs (N,K), labels -> dlogits (N,K) = */
void NN(xent_backward)(int n, int k, real *dlogits, const real *probs, const int32_t *labels,
		       double smoothing)
{
	const double inv_n = 1.0 / n;
	const double off = smoothing / k;

	for (int i = 0; i < n; i++) {
		for (int j = 0; j < k; j++) {
			double q = off + (j == labels[i] ? 1 - smoothing : 0);

			dlogits[(size_t)i * k + j] = (real)((probs[(size_t)i * k + j] - q) * inv_n);
		}
	}
}
