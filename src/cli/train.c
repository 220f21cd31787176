/* augment train, eval and predict: the embedded trainer from the command
 * line. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* ---- Shared --------------------------------------------------------------- */

/* The channels to train on: 1 when the first image is grey, else 3. */
static int guess_channels(const aug_dataset *ds, int *w, int *h)
{
	aug_header hdr;

	*w = *h = 0;
	for (size_t i = 0; i < aug_dataset_count(ds) && i < 16; i++) {
		if (aug_probe_file(aug_dataset_item_at(ds, i)->path, &hdr))
			continue;
		aug_header_display_size(&hdr, w, h);
		return hdr.channels <= 2 && !hdr.palette ? 1 : 3;
	}
	return 3;
}

static int pipeline_from_text(const char *text, const char *source, aug_pipeline **out)
{
	aug_status st = aug_pipeline_parse(text, source, out);

	if (st) {
		cli_fail(st);
		return EXIT_USAGE;
	}
	return 0;
}

/* ---- train ------------------------------------------------------------------ */

/* samples/models/fmnist.model, built in so that the default does not depend
 * on the folder augment runs from. */
static const char default_model[] = "conv 32 k=3 pad=1 bias=no; bn; relu; maxpool 2; "
				    "conv 64 k=3 pad=1 bias=no; bn; relu; maxpool 2; "
				    "flatten; linear 128 bias=no; bn; relu; dropout p=0.5; linear classes";
static const char *t_model = default_model;
static const char *t_pipe;
static const char *t_eval_pipe;
static const char *t_out = "model.ckpt";
static const char *t_ckpt;
static const char *t_resume;
static const char *t_csv;
static const char *t_jsonl;
static const char *t_plot;
static const char *t_test;
static const char *t_optim = "momentum";
static const char *t_sched = "cosine";
static const char *t_monitor = "loss";
static int t_epochs = 10;
static int t_batch = 128;
static int t_threads;
static int t_loader_threads = 1;
static int t_channels;
static int t_patience;
static double t_lr = 0.05;
static double t_min_lr;
static double t_momentum = 0.9;
static double t_warmup;
static double t_step_epochs;
static double t_gamma = 0.1;
static double t_l2;
static double t_l1;
static double t_smoothing;
static double t_val = 0.1;
static double t_min_delta;
static uint64_t t_seed;
static bool t_nesterov;
static bool t_decay_all;
static bool t_no_restore;
static bool t_quiet;
static bool t_fail;
static uint64_t t_max_pixels = AUG_DEFAULT_MAX_PIXELS;

static const struct opt train_opts[] = {
	{ "model", 'm', OPT_STRING, &t_model, "SPEC|FILE", "the model (default: samples/models/fmnist.model, built in)" },
	{ "pipeline", 'p', OPT_STRING, &t_pipe, "SPEC|FILE", "training augmentation; must end in the input size" },
	{ "eval-pipeline", 0, OPT_STRING, &t_eval_pipe, "SPEC|FILE", "validation and test preprocessing" },
	{ "epochs", 'e', OPT_INT, &t_epochs, "N", "epochs (default 10)" },
	{ "batch", 'b', OPT_INT, &t_batch, "B", "batch size (default 128)" },
	{ "optimizer", 0, OPT_STRING, &t_optim, "NAME", "sgd, momentum (default), adagrad, rmsprop, adam, adamw" },
	{ "lr", 0, OPT_DOUBLE, &t_lr, "LR", "base learning rate (default 0.05)" },
	{ "momentum", 0, OPT_DOUBLE, &t_momentum, "M", "momentum (default 0.9)" },
	{ "nesterov", 0, OPT_FLAG, &t_nesterov, NULL, "Nesterov momentum" },
	{ "schedule", 0, OPT_STRING, &t_sched, "NAME", "constant, step, cosine (default), linear, invsqrt" },
	{ "warmup", 0, OPT_DOUBLE, &t_warmup, "EPOCHS", "linear warm-up, in epochs (default 0)" },
	{ "min-lr", 0, OPT_DOUBLE, &t_min_lr, "LR", "cosine's final rate (default 0)" },
	{ "step-epochs", 0, OPT_DOUBLE, &t_step_epochs, "E", "step schedule: epochs per step (default epochs/3)" },
	{ "gamma", 0, OPT_DOUBLE, &t_gamma, "G", "step schedule: factor per step (default 0.1)" },
	{ "l2", 0, OPT_DOUBLE, &t_l2, "L", "L2 weight decay λ2 (AdamW: decoupled)" },
	{ "l1", 0, OPT_DOUBLE, &t_l1, "L", "L1 weight decay λ1 (with --l2: elastic net)" },
	{ "decay-all", 0, OPT_FLAG, &t_decay_all, NULL, "regularise biases and BatchNorm parameters too" },
	{ "label-smoothing", 0, OPT_DOUBLE, &t_smoothing, "EPS", "label smoothing (default 0)" },
	{ "val", 0, OPT_DOUBLE, &t_val, "FRACTION", "stratified validation split (default 0.1; 0: none)" },
	{ "patience", 0, OPT_INT, &t_patience, "N", "early stopping after N epochs without improvement" },
	{ "monitor", 0, OPT_STRING, &t_monitor, "loss|accuracy", "what early stopping watches (validation)" },
	{ "min-delta", 0, OPT_DOUBLE, &t_min_delta, "D", "least change that counts as improvement" },
	{ "no-restore-best", 0, OPT_FLAG, &t_no_restore, NULL, "keep the last weights, not the best epoch's" },
	{ "test", 0, OPT_STRING, &t_test, "DIR", "evaluate on this class-per-folder set at the end" },
	{ "output", 'o', OPT_STRING, &t_out, "FILE", "the trained model (default model.ckpt)" },
	{ "checkpoint", 0, OPT_STRING, &t_ckpt, "FILE", "checkpoint after every epoch (default OUTPUT.last)" },
	{ "resume", 0, OPT_STRING, &t_resume, "FILE", "continue a run from its checkpoint" },
	{ "csv", 0, OPT_STRING, &t_csv, "FILE", "per-epoch table as CSV" },
	{ "jsonl", 0, OPT_STRING, &t_jsonl, "FILE", "per-epoch table as JSON lines" },
	{ "plot", 0, OPT_STRING, &t_plot, "FILE.png", "loss and accuracy curves as a picture" },
	{ "seed", 's', OPT_U64, &t_seed, "S", "random seed (default 0)" },
	{ "threads", 't', OPT_INT, &t_threads, "T", "compute threads (default: all cores)" },
	{ "loader-threads", 0, OPT_INT, &t_loader_threads, "T", "augmentation threads (default 1)" },
	{ "channels", 0, OPT_INT, &t_channels, "C", "1 or 3 (default: from the first image)" },
	{ "fail-on-error", 0, OPT_FLAG, &t_fail, NULL, "stop at an unreadable image (default: skip it)" },
	{ "quiet", 'q', OPT_FLAG, &t_quiet, NULL, "no per-epoch table" },
	{ "max-pixels", 0, OPT_U64, &t_max_pixels, "N", "skip images of more than N pixels, or whose pipeline would make them (default 100000000)" },
	{ 0 },
};

struct train_ctx {
	aug_trainer *t;
	bool quiet;
};

static void write_tables(aug_trainer *t)
{
	int n = aug_trainer_epochs_done(t);
	FILE *f;
	char *buf = NULL;
	size_t len = 0;

	if (t_csv && (f = open_memstream(&buf, &len))) {
		fprintf(f, "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,images_per_second,best\n");
		for (int i = 0; i < n; i++) {
			const aug_epoch_stats *s = aug_trainer_history(t, i);

			fprintf(f, "%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.3f,%.1f,%d\n", s->epoch, s->train_loss, s->train_acc,
				s->val_loss, s->val_acc, s->lr, s->seconds, s->images_per_second, s->best);
		}
		fclose(f);
		if (aug_file_write_atomic(t_csv, buf, len))
			cli_fail(AUG_EIO);
		free(buf);
		buf = NULL;
	}
	if (t_jsonl && (f = open_memstream(&buf, &len))) {
		for (int i = 0; i < n; i++) {
			const aug_epoch_stats *s = aug_trainer_history(t, i);

			fprintf(f,
				"{\"epoch\":%d,\"train_loss\":%.6f,\"train_acc\":%.6f,\"val_loss\":%.6f,\"val_acc\":%.6f,"
				"\"lr\":%.6g,\"seconds\":%.3f,\"images_per_second\":%.1f,\"best\":%s}\n",
				s->epoch, s->train_loss, s->train_acc, isnan(s->val_loss) ? -1 : s->val_loss,
				isnan(s->val_acc) ? -1 : s->val_acc, s->lr, s->seconds, s->images_per_second,
				s->best ? "true" : "false");
		}
		fclose(f);
		if (aug_file_write_atomic(t_jsonl, buf, len))
			cli_fail(AUG_EIO);
		free(buf);
	}
	if (t_plot && n > 0) {
		aug_epoch_stats *h = malloc((size_t)n * sizeof(*h));

		if (h) {
			for (int i = 0; i < n; i++)
				h[i] = *aug_trainer_history(t, i);
			cli_plot_curves(t_plot, h, n);
			free(h);
		}
	}
}

static void print_row(const aug_epoch_stats *s)
{
	char vl[16] = "       -", va[16] = "       -";

	if (!isnan(s->val_loss)) {
		snprintf(vl, sizeof(vl), "%8.4f", s->val_loss);
		snprintf(va, sizeof(va), "%7.2f%%", 100 * s->val_acc);
	}
	printf("%5d  %10.4f  %8.2f%%  %s  %s  %9.5f  %8.0f  %6.1fs %s\n", s->epoch, s->train_loss,
	       100 * s->train_acc, vl, va, s->lr, s->images_per_second, s->seconds, s->best ? "*" : "");
	fflush(stdout);
}

static void on_epoch(void *ctx, const aug_epoch_stats *s)
{
	struct train_ctx *c = ctx;

	if (!c->quiet)
		print_row(s);
	write_tables(c->t);
}

static int print_eval(const aug_eval_result *r, const aug_dataset *ds, bool json);

static int run_train(int argc, char **argv)
{
	aug_dataset *ds = NULL, *test = NULL;
	aug_pipeline *tp = NULL, *ep = NULL;
	aug_model *m = NULL;
	aug_trainer *t = NULL;
	aug_train_options o;
	struct train_ctx ctx = { 0 };
	size_t *tr = NULL, *va = NULL, ntr = 0, nva = 0;
	char *model_text = NULL, *tp_text = NULL, *ep_text = NULL, *ckpt = NULL, *summary = NULL;
	char spec[256];
	int rc = 1, c, w0, h0, w, h;
	double t0 = cli_now();
	aug_status st;

	(void)argc;
	if (t_epochs < 1 || t_batch < 2 || t_val < 0 || t_val >= 1 || t_patience < 0 ||
	    (t_channels && t_channels != 1 && t_channels != 3)) {
		cli_error("train: need --epochs >= 1, --batch >= 2, 0 <= --val < 1, --channels 1 or 3");
		return EXIT_USAGE;
	}
	aug_train_options_init(&o);
	o.optim.kind = aug_optim_from_name(t_optim);
	o.schedule.kind = aug_sched_from_name(t_sched);
	if (o.optim.kind == AUG_OPTIM_COUNT || o.schedule.kind == AUG_SCHED_COUNT ||
	    (strcmp(t_monitor, "loss") && strcmp(t_monitor, "accuracy"))) {
		cli_error("train: unknown --optimizer, --schedule or --monitor (see augment train --help)");
		return EXIT_USAGE;
	}
	if (aug_dataset_scan(argv[0], NULL, &ds)) {
		cli_fail(AUG_EIO);
		return 1;
	}
	if (aug_dataset_class_count(ds) < 2 || aug_dataset_count(ds) < 2) {
		cli_error("train: %s: need at least two class folders with images", argv[0]);
		goto out;
	}
	c = guess_channels(ds, &w0, &h0);
	if (t_channels)
		c = t_channels;
	/* The pipelines. Without -p the images are used as they are
	 * (centre-cropped to the first image's size). */
	if (t_pipe) {
		tp_text = cli_read_spec(t_pipe);
	} else {
		snprintf(spec, sizeof(spec), "center_crop %dx%d", w0 > 0 ? w0 : 32, h0 > 0 ? h0 : 32);
		tp_text = strdup(spec);
	}
	if (!tp_text || (rc = pipeline_from_text(tp_text, t_pipe ? t_pipe : "-p", &tp)))
		goto out;
	rc = 1;
	if (!aug_pipeline_fixed_size(tp, &w, &h)) {
		cli_error("train: the pipeline must end in a fixed size (crop, center_crop, random_resized_crop "
			  "or resize size=WxH)");
		rc = EXIT_USAGE;
		goto out;
	}
	if (t_eval_pipe) {
		ep_text = cli_read_spec(t_eval_pipe);
	} else if (w0 >= w && h0 >= h && w0 <= w * 3 / 2 && h0 <= h * 3 / 2) {
		snprintf(spec, sizeof(spec), "center_crop %dx%d", w, h);
		ep_text = strdup(spec);
	} else {
		/* The usual evaluation transform: short side to 8/7 of the input
		 * (256 for 224), then the centre. */
		snprintf(spec, sizeof(spec), "resize short=%d; center_crop %dx%d", (w > h ? w : h) * 8 / 7, w, h);
		ep_text = strdup(spec);
	}
	if (!ep_text || (rc = pipeline_from_text(ep_text, "--eval-pipeline", &ep)))
		goto out;
	rc = EXIT_USAGE;
	model_text = cli_read_spec(t_model);
	if (!model_text)
		goto out;
	rc = 1;
	st = aug_model_parse(&m, model_text, c, h, w, aug_dataset_class_count(ds));
	if (st) {
		cli_fail(st);
		rc = EXIT_USAGE;
		goto out;
	}
	if (t_threads > 0)
		omp_set_num_threads(t_threads);
	aug_model_init(m, t_seed);
	if (t_val > 0)
		st = aug_dataset_split(ds, t_val, t_seed, &tr, &ntr, &va, &nva);
	else
		st = aug_dataset_split(ds, 0, t_seed, &tr, &ntr, &va, &nva);
	if (st) {
		cli_fail(st);
		goto out;
	}
	o.epochs = t_epochs;
	o.batch_size = t_batch;
	o.loader_threads = t_loader_threads;
	o.seed = t_seed;
	o.optim.momentum = (float)t_momentum;
	o.optim.nesterov = t_nesterov;
	o.optim.l2 = (float)t_l2;
	o.optim.l1 = (float)t_l1;
	o.schedule.lr = t_lr;
	o.schedule.min_lr = t_min_lr;
	o.schedule.gamma = t_gamma;
	o.warmup_epochs = t_warmup;
	o.step_epochs = t_step_epochs;
	o.label_smoothing = (float)t_smoothing;
	o.decay_all = t_decay_all;
	o.patience = t_patience;
	o.min_delta = t_min_delta;
	o.monitor_accuracy = strcmp(t_monitor, "accuracy") == 0;
	o.restore_best = !t_no_restore;
	o.fail_on_error = t_fail;
	o.max_pixels = t_max_pixels;
	if (t_ckpt) {
		ckpt = strdup(t_ckpt);
	} else if (asprintf(&ckpt, "%s.last", t_out) < 0) {
		ckpt = NULL;
	}
	o.checkpoint = ckpt;
	/* A run killed while it wrote one of these left a temporary beside it. */
	aug_file_remove_temporaries(t_out);
	if (ckpt)
		aug_file_remove_temporaries(ckpt);
	if (t_csv)
		aug_file_remove_temporaries(t_csv);
	if (t_jsonl)
		aug_file_remove_temporaries(t_jsonl);
	ctx.quiet = t_quiet;
	o.on_epoch = on_epoch;
	o.ctx = &ctx;
	st = aug_trainer_new(m, ds, tr, ntr, va, nva, tp, ep, &o, &t);
	if (st) {
		cli_fail(st);
		goto out;
	}
	ctx.t = t;
	if (t_resume) {
		st = aug_trainer_resume(t, t_resume);
		if (st) {
			cli_fail(st);
			goto out;
		}
	}
	if (!t_quiet) {
		aug_model_summary(m, &summary);
		printf("data: %s, %d classes, %zu training and %zu validation images, %dx%dx%d\n", argv[0],
		       aug_dataset_class_count(ds), ntr, nva, c, h, w);
		printf("train pipeline: %s\neval pipeline:  %s\n", tp_text, ep_text);
		printf("model:\n%s", summary ? summary : "");
		printf("optimizer %s, lr %g, schedule %s%s, batch %d, %d threads\n\n", aug_optim_name(o.optim.kind),
		       t_lr, aug_sched_name(o.schedule.kind), t_warmup > 0 ? " with warm-up" : "", t_batch,
		       omp_get_max_threads());
		printf("epoch  train loss  train acc  val loss  val acc         lr     img/s    time\n");
		for (int i = 0; i < aug_trainer_epochs_done(t); i++)
			print_row(aug_trainer_history(t, i));
	}
	st = aug_trainer_run(t);
	if (st) {
		cli_fail(st);
		goto out;
	}
	for (size_t i = 0; i < aug_trainer_failure_count(t); i++)
		cli_warn("skipped: %s", aug_trainer_failure_at(t, i));
	if (aug_trainer_stopped_early(t))
		printf("early stopping after epoch %d: no improvement for %d epochs\n", aug_trainer_epochs_done(t),
		       t_patience);
	if (t_patience > 0 && !t_no_restore && aug_trainer_best_epoch(t) > 0)
		printf("restored the weights and BatchNorm statistics of epoch %d\n", aug_trainer_best_epoch(t));
	st = aug_trainer_save(t, t_out);
	if (st) {
		cli_fail(st);
		goto out;
	}
	printf("model written to %s (%.1f s)\n", t_out, cli_now() - t0);
	if (t_test) {
		aug_eval_result r;
		aug_eval_options eo;
		size_t *items;
		const aug_pipeline *views[1] = { ep };

		if (aug_dataset_scan(t_test, NULL, &test)) {
			cli_fail(AUG_EIO);
			goto out;
		}
		items = malloc(aug_dataset_count(test) * sizeof(size_t) + 1);
		for (size_t i = 0; items && i < aug_dataset_count(test); i++)
			items[i] = i;
		aug_eval_options_init(&eo);
		eo.seed = t_seed;
		eo.batch_size = t_batch;
		eo.threads = t_loader_threads;
		eo.max_pixels = t_max_pixels;
		st = items ? aug_evaluate(m, test, items, aug_dataset_count(test), views, 1, &eo, &r) : AUG_ENOMEM;
		free(items);
		if (st) {
			cli_fail(st);
			goto out;
		}
		printf("\ntest set %s:\n", t_test);
		print_eval(&r, test, false);
		aug_eval_result_free(&r);
	}
	rc = 0;
out:
	aug_trainer_free(t);
	aug_model_free(m);
	aug_pipeline_free(tp);
	aug_pipeline_free(ep);
	aug_dataset_free(ds);
	aug_dataset_free(test);
	aug_free(tr);
	aug_free(va);
	aug_free(summary);
	free(model_text);
	free(tp_text);
	free(ep_text);
	free(ckpt);
	return rc;
}

const struct command cmd_train = {
	.name = "train",
	.summary = "train a CNN on a class-per-folder data set, augmenting on the fly",
	.usage = "DATA [-m MODEL] [-p PIPELINE] [options]",
	.description =
		"Background threads run the augmentation pipeline into a ring of float batches\n"
		"while the model trains; the content and order of every batch depend only on\n"
		"(seed, epoch). Every epoch prints a row and rewrites the checkpoint, so\n"
		"--resume continues a killed run exactly. Early stopping (--patience) restores\n"
		"the best epoch's weights and BatchNorm statistics.",
	.opts = train_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_train,
};

/* ---- eval ------------------------------------------------------------------- */

static const char *e_tta = "none";
static const char *e_reduce = "mean";
static const char *e_pipe;
static int e_batch = 256;
static int e_threads;
static uint64_t e_seed;
static bool e_json;
static uint64_t e_max_pixels = AUG_DEFAULT_MAX_PIXELS;

static const struct opt eval_opts[] = {
	{ "tta", 0, OPT_STRING, &e_tta, "none|flips|crops|N", "test-time augmentation views (default none)" },
	{ "tta-reduce", 0, OPT_STRING, &e_reduce, "mean|vote", "average softmax outputs, or majority vote" },
	{ "eval-pipeline", 0, OPT_STRING, &e_pipe, "SPEC|FILE", "preprocessing (default: the model's)" },
	{ "batch", 'b', OPT_INT, &e_batch, "B", "batch size (default 256)" },
	{ "threads", 't', OPT_INT, &e_threads, "T", "compute threads (default: all cores)" },
	{ "seed", 's', OPT_U64, &e_seed, "S", "seed of the random views of --tta N" },
	{ "json", 0, OPT_FLAG, &e_json, NULL, "print JSON" },
	{ "max-pixels", 0, OPT_U64, &e_max_pixels, "N", "leave out images of more than N pixels, or whose pipeline would make them (default 100000000)" },
	{ 0 },
};

static int print_eval(const aug_eval_result *r, const aug_dataset *ds, bool json)
{
	int k = r->classes;

	if (json) {
		printf("{\"images\":%zu,\"accuracy\":%.6f,\"loss\":%.6f,\"classes\":[", r->n, r->accuracy, r->loss);
		for (int j = 0; j < k; j++) {
			printf("%s{\"name\":", j ? "," : "");
			json_string(stdout, aug_dataset_class_name(ds, j) ? aug_dataset_class_name(ds, j) : "?");
			printf(",\"accuracy\":%.6f}", isnan(r->class_accuracy[j]) ? -1.0 : r->class_accuracy[j]);
		}
		printf("],\"confusion\":[");
		for (int a = 0; a < k; a++) {
			printf("%s[", a ? "," : "");
			for (int b = 0; b < k; b++)
				printf("%s%zu", b ? "," : "", r->confusion[(size_t)a * (size_t)k + (size_t)b]);
			printf("]");
		}
		printf("]}\n");
		return 0;
	}
	printf("accuracy %.2f%% on %zu images, loss %.4f\n\n", 100 * r->accuracy, r->n, r->loss);
	printf("  %-14s %8s\n", "class", "accuracy");
	for (int j = 0; j < k; j++)
		printf("  %-14.14s %7.2f%%\n", aug_dataset_class_name(ds, j) ? aug_dataset_class_name(ds, j) : "?",
		       100 * r->class_accuracy[j]);
	printf("\nconfusion matrix (rows: true class, columns: predicted)\n  %-14s", "");
	for (int b = 0; b < k; b++)
		printf(" %6.6s", aug_dataset_class_name(ds, b) ? aug_dataset_class_name(ds, b) : "?");
	printf("\n");
	for (int a = 0; a < k; a++) {
		printf("  %-14.14s", aug_dataset_class_name(ds, a) ? aug_dataset_class_name(ds, a) : "?");
		for (int b = 0; b < k; b++)
			printf(" %6zu", r->confusion[(size_t)a * (size_t)k + (size_t)b]);
		printf("\n");
	}
	return 0;
}

static int run_eval(int argc, char **argv)
{
	aug_model *m = NULL;
	aug_checkpoint_info info = { 0 };
	aug_dataset *ds = NULL;
	aug_pipeline *views[64] = { NULL };
	aug_eval_result r = { 0 };
	aug_eval_options eo;
	size_t *items = NULL;
	char *ep_text = NULL;
	int nviews = 1, rc = 1, c, h, w;
	aug_tta_reduce reduce = AUG_TTA_MEAN;
	aug_status st;

	(void)argc;
	if (strcmp(e_reduce, "vote") == 0)
		reduce = AUG_TTA_VOTE;
	else if (strcmp(e_reduce, "mean") != 0) {
		cli_error("eval: --tta-reduce must be mean or vote");
		return EXIT_USAGE;
	}
	st = aug_checkpoint_load_model(argv[0], &m, &info);
	if (st) {
		cli_fail(st);
		return 1;
	}
	if (e_threads > 0)
		omp_set_num_threads(e_threads);
	aug_model_input_shape(m, &c, &h, &w);
	ep_text = e_pipe ? cli_read_spec(e_pipe) : strdup(info.eval_pipeline ? info.eval_pipeline : "hflip p=0");
	if (!ep_text || pipeline_from_text(ep_text, "--eval-pipeline", &views[0])) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (strcmp(e_tta, "none") == 0) {
		nviews = 1;
	} else if (strcmp(e_tta, "flips") == 0) {
		char *s = NULL;

		if (asprintf(&s, "%s\nhflip p=1", ep_text) < 0 || pipeline_from_text(s, "--tta", &views[1])) {
			free(s);
			goto out;
		}
		free(s);
		nviews = 2;
	} else if (strcmp(e_tta, "crops") == 0) {
		/* Five crops: the centre and the four corners of the input padded
		 * by an eighth of its size. */
		static const char *const pos[] = { "tl", "tr", "bl", "br" };
		int pad = (w > h ? w : h) / 8 > 2 ? (w > h ? w : h) / 8 : 2;

		for (int i = 0; i < 4; i++) {
			char *s = NULL;

			if (asprintf(&s, "%s\ncrop %dx%d pad=%d position=%s", ep_text, w, h, pad, pos[i]) < 0 ||
			    pipeline_from_text(s, "--tta", &views[1 + i])) {
				free(s);
				goto out;
			}
			free(s);
		}
		nviews = 5;
	} else {
		char *end;
		long n = strtol(e_tta, &end, 10);

		if (*end || n < 1 || n > 64 || !info.train_pipeline) {
			cli_error("eval: --tta must be none, flips, crops or a number of views 1..64");
			rc = EXIT_USAGE;
			goto out;
		}
		/* View 0 is the plain evaluation; the others are random draws
		 * of the training pipeline. */
		for (int i = 1; i < n; i++)
			if (pipeline_from_text(info.train_pipeline, "train pipeline", &views[i]))
				goto out;
		nviews = (int)n;
	}
	if (aug_dataset_scan(argv[1], NULL, &ds)) {
		cli_fail(AUG_EIO);
		goto out;
	}
	if (aug_dataset_class_count(ds) != info.classes)
		cli_warn("%s has %d classes; the model was trained on %d", argv[1], aug_dataset_class_count(ds),
			 info.classes);
	items = malloc(aug_dataset_count(ds) * sizeof(size_t) + 1);
	for (size_t i = 0; items && i < aug_dataset_count(ds); i++)
		items[i] = i;
	aug_eval_options_init(&eo);
	eo.reduce = reduce;
	eo.seed = e_seed;
	eo.batch_size = e_batch;
	eo.max_pixels = e_max_pixels;
	st = items ? aug_evaluate(m, ds, items, aug_dataset_count(ds), (const aug_pipeline *const *)views, nviews, &eo,
				  &r)
		   : AUG_ENOMEM;
	if (st) {
		cli_fail(st);
		goto out;
	}
	if (!e_json && nviews > 1)
		printf("test-time augmentation: %d views (%s), %s\n", nviews, e_tta,
		       reduce == AUG_TTA_VOTE ? "majority vote" : "mean of softmax outputs");
	print_eval(&r, ds, e_json);
	rc = 0;
out:
	aug_eval_result_free(&r);
	for (int i = 0; i < 64; i++)
		aug_pipeline_free(views[i]);
	free(items);
	free(ep_text);
	aug_dataset_free(ds);
	aug_checkpoint_info_free(&info);
	aug_model_free(m);
	return rc;
}

const struct command cmd_eval = {
	.name = "eval",
	.summary = "accuracy, per-class accuracy and confusion matrix of a trained model",
	.usage = "MODEL DATA [--tta none|flips|crops|N] [--tta-reduce mean|vote]",
	.description =
		"DATA is a class-per-folder set with the training set's class folders. With\n"
		"--tta each image is seen in several views (flips: as is and mirrored; crops:\n"
		"the centre and four corners; N: the plain view and N-1 random draws of the\n"
		"training pipeline) whose softmax outputs are averaged, or which vote.",
	.opts = eval_opts,
	.min_args = 2,
	.max_args = 2,
	.run = run_eval,
};

/* ---- predict ---------------------------------------------------------------- */

static int p_top = 3;
static bool p_json;
static uint64_t p_max_pixels = AUG_DEFAULT_MAX_PIXELS;

static const struct opt predict_opts[] = {
	{ "top", 'k', OPT_INT, &p_top, "K", "show the K most likely classes (default 3)" },
	{ "json", 0, OPT_FLAG, &p_json, NULL, "one JSON line per image" },
	{ "max-pixels", 0, OPT_U64, &p_max_pixels, "N", "refuse images of more than N pixels, and pipelines that would make them (default 100000000)" },
	{ 0 },
};

static int run_predict(int argc, char **argv)
{
	aug_model *m = NULL;
	aug_checkpoint_info info = { 0 };
	aug_pipeline *ep = NULL;
	aug_executor *ex = NULL;
	aug_executor_options eo;
	float *x = NULL;
	double *p = NULL;
	int *order = NULL;
	int rc = 1, c, h, w, k;
	aug_status st;

	st = aug_checkpoint_load_model(argv[0], &m, &info);
	if (st) {
		cli_fail(st);
		return 1;
	}
	aug_model_input_shape(m, &c, &h, &w);
	k = aug_model_num_outputs(m);
	if (p_top < 1)
		p_top = 1;
	if (p_top > k)
		p_top = k;
	if (pipeline_from_text(info.eval_pipeline ? info.eval_pipeline : "hflip p=0", "model", &ep))
		goto out;
	aug_executor_options_init(&eo);
	eo.decode.channels = c == 1 ? AUG_CHANNELS_GREY : AUG_CHANNELS_RGB;
	eo.decode.max_pixels = p_max_pixels;
	if (aug_executor_new(ep, &eo, &ex)) {
		cli_fail(AUG_ENOMEM);
		goto out;
	}
	/* A checkpoint may hold up to a million classes. */
	x = malloc((size_t)c * (size_t)h * (size_t)w * sizeof(float));
	p = malloc((size_t)k * sizeof(*p));
	order = malloc((size_t)k * sizeof(*order));
	if (!x || !p || !order) {
		cli_fail(AUG_ENOMEM);
		goto out;
	}
	rc = 0;
	for (int i = 1; i < argc; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		const float *logits;
		double mx, sum = 0;

		st = aug_file_read(argv[i], 0, &buf, &len);
		if (!st)
			st = aug_executor_run_f32(ex, buf, len, argv[i], (aug_key){ 0, 0, 0 }, x, c, h, w);
		aug_free(buf);
		if (!st)
			st = aug_model_forward(m, x, 1, &logits);
		if (st) {
			cli_fail(st);
			rc = 1;
			continue;
		}
		mx = logits[0];
		for (int j = 0; j < k; j++)
			mx = logits[j] > mx ? logits[j] : mx;
		for (int j = 0; j < k; j++) {
			p[j] = exp(logits[j] - mx);
			sum += p[j];
			order[j] = j;
		}
		for (int j = 0; j < k; j++)
			p[j] /= sum;
		for (int a = 0; a < p_top; a++)
			for (int b = a + 1; b < k; b++)
				if (p[order[b]] > p[order[a]]) {
					int tmp = order[a];

					order[a] = order[b];
					order[b] = tmp;
				}
		if (p_json) {
			printf("{\"path\":");
			json_string(stdout, argv[i]);
			printf(",\"top\":[");
			for (int a = 0; a < p_top; a++) {
				printf("%s{\"class\":", a ? "," : "");
				json_string(stdout, info.class_names[order[a]]);
				printf(",\"label\":%d,\"probability\":%.6f}", order[a], p[order[a]]);
			}
			printf("]}\n");
		} else {
			printf("%s:", argv[i]);
			for (int a = 0; a < p_top; a++)
				printf("%s %s %.1f%%", a ? "," : "", info.class_names[order[a]], 100 * p[order[a]]);
			printf("\n");
		}
	}
out:
	free(x);
	free(p);
	free(order);
	aug_executor_free(ex);
	aug_pipeline_free(ep);
	aug_checkpoint_info_free(&info);
	aug_model_free(m);
	return rc;
}

const struct command cmd_predict = {
	.name = "predict",
	.summary = "classify images with a trained model",
	.usage = "MODEL IMAGES... [--top K] [--json]",
	.description = "Each image goes through the model's evaluation pipeline; the K most likely\n"
		       "classes are printed with their softmax probabilities.",
	.opts = predict_opts,
	.min_args = 2,
	.max_args = -1,
	.run = run_predict,
};
