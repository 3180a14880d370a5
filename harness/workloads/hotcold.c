/*
 * hotcold: a hot/cold memory toucher for DAMON tests.
 *
 * Maps anonymous regions, each 2 MiB aligned and in a VMA of its own, 4 TiB
 * apart (see map_regions()), touches each once, prints one machine-readable
 * line per region, then follows a phase schedule.
 *
 * Two forms. The hot/cold form (--hot, --cold, --phases KIND:SEC,...) maps
 * regions "hot" and "cold"; a phase kind says what it sweeps:
 *   hot  sweep the hot region       cold  sweep the cold region
 *   all  sweep both                 idle  sleep
 * The access-pattern form names its regions (--region NAME:SIZE, repeated)
 * and phases (--phase NAME:SEC:REGION=WEIGHT,...; no REGION list = idle):
 * each round of a phase sweeps every region WEIGHT times. --loop runs the
 * phase list again and again. A phase of 0 seconds lasts until the process
 * is killed. --rate limits rounds per second in both forms. SIGUSR1 ends
 * the current phase at once: the next one starts at a moment the caller
 * chooses (the harness's next_phase step).
 *
 * Under QEMU TCG the emulated TLB is large and is not flushed when DAMON
 * clears a PTE's Accessed bit (x86 skips that flush), so re-touched pages
 * never get the bit set again and hot memory looks cold. The harness boots
 * TCG guests with page-table isolation, whose CR3 writes empty that TLB
 * (harness/vm/qemu.py), so no workload needs to do anything. For a kernel
 * without it there is --tlb-flush MS (default 0, off): a sweep is followed,
 * at most every MS milliseconds, by MADV_DONTNEED on a small mapping of its
 * own, which makes the kernel flush this mm's TLB. It takes mmap_lock only
 * for reading, so DAMON and MADV_COLLAPSE are not held up.
 *
 * Output (stdout, flushed):
 *   region name=hot start=0x7f... end=0x7f... size=67108864
 *   region name=cold start=0x7f... end=0x7f... size=67108864
 *   ready pid=1234
 *   phase name=hot seconds=30
 *   progress rounds=1234 seconds=1.000	(about once a second: rounds
 *				 swept since ready, and seconds since then)
 *   done
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HUGE_SZ (2UL << 20)
#define MAX_PHASES 64
#define MAX_REGIONS 16
#define NAME_LEN 24
#define MPOL_DEFAULT_ 0
#define MPOL_BIND_ 2

struct region {
	char name[NAME_LEN];
	unsigned char *start;
	size_t size;
};

struct phase {
	char name[NAME_LEN];
	double seconds;
	int weight[MAX_REGIONS];	/* sweeps of each region per round */
};

struct options {
	size_t stride;
	double rate;
	int madv;
	int node;
	double tlb_flush_ms;
	size_t small_vma_below;
	int loop;
	int nr_regions;
	struct region regions[MAX_REGIONS];
	int nr_phases;
	struct phase phases[MAX_PHASES];
};

static void die(const char *msg)
{
	fprintf(stderr, "hotcold: %s: %s\n", msg, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: hotcold [--hot SIZE] [--cold SIZE] [--phases KIND:SEC,...]\n"
		"               [--region NAME:SIZE]... [--loop]\n"
		"               [--phase NAME:SEC[:REGION=WEIGHT,...]]...\n"
		"               [--stride BYTES] [--rate ROUNDS_PER_SEC]\n"
		"               [--madvise hugepage|nohugepage|none]\n"
		"               [--first-touch-node N] [--tlb-flush MS]\n"
		"               [--small-vma-below SIZE]\n");
	exit(2);
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'g': case 'G': v <<= 10; /* fall through */
	case 'm': case 'M': v <<= 10; /* fall through */
	case 'k': case 'K': v <<= 10; end++; break;
	case '\0': break;
	default: usage();
	}
	if (*end == 'i' || *end == 'B')
		end += strspn(end, "iB");
	if (*end)
		usage();
	return (size_t)v;
}

static void copy_name(char *dst, const char *src, size_t len)
{
	if (len == 0 || len >= NAME_LEN)
		usage();
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static int region_index(const struct options *o, const char *name, size_t len)
{
	int i;

	for (i = 0; i < o->nr_regions; i++)
		if (strlen(o->regions[i].name) == len &&
		    !strncmp(o->regions[i].name, name, len))
			return i;
	usage();
	return -1;
}

static struct phase *new_phase(struct options *o, const char *name,
			       size_t len, double seconds)
{
	struct phase *p;

	if (o->nr_phases == MAX_PHASES || seconds < 0)
		usage();
	p = &o->phases[o->nr_phases++];
	memset(p, 0, sizeof(*p));
	copy_name(p->name, name, len);
	p->seconds = seconds;
	return p;
}

/* The hot/cold form: KIND:SEC,... over regions 0 (hot) and 1 (cold). */
static void parse_phases(struct options *o, char *spec)
{
	char *save = NULL, *tok;

	o->nr_phases = 0;
	for (tok = strtok_r(spec, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		struct phase *p;
		size_t len;

		if (!colon)
			usage();
		len = colon - tok;
		p = new_phase(o, tok, len, atof(colon + 1));
		if (!strcmp(p->name, "hot") || !strcmp(p->name, "all"))
			p->weight[0] = 1;
		if (!strcmp(p->name, "cold") || !strcmp(p->name, "all"))
			p->weight[1] = 1;
		if (!p->weight[0] && !p->weight[1] && strcmp(p->name, "idle"))
			usage();
	}
}

/* NAME:SIZE; the first one replaces the default hot and cold regions. */
static void add_region(struct options *o, const char *spec, int *named)
{
	const char *colon = strchr(spec, ':');
	struct region *r;

	if (!*named) {
		o->nr_regions = 0;
		*named = 1;
	}
	if (!colon || o->nr_regions == MAX_REGIONS)
		usage();
	r = &o->regions[o->nr_regions++];
	copy_name(r->name, spec, colon - spec);
	r->size = parse_size(colon + 1);
}

/* NAME:SEC[:REGION=WEIGHT,...] */
static void add_phase(struct options *o, const char *spec, int *named)
{
	const char *c1 = strchr(spec, ':'), *tok;
	struct phase *p;
	char *end;

	if (!*named) {
		o->nr_phases = 0;
		*named = 1;
	}
	if (!c1)
		usage();
	p = new_phase(o, spec, c1 - spec, strtod(c1 + 1, &end));
	if (*end != '\0' && *end != ':')
		usage();
	for (tok = *end ? end + 1 : end; *tok; ) {
		const char *eq = strchr(tok, '=');
		long w;

		if (!eq)
			usage();
		w = strtol(eq + 1, &end, 10);
		if (w < 0 || w > 1000 || (*end && *end != ','))
			usage();
		p->weight[region_index(o, tok, eq - tok)] = (int)w;
		tok = *end ? end + 1 : end;
	}
}

static int parse_madvise(const char *s)
{
	if (!strcmp(s, "hugepage"))
		return MADV_HUGEPAGE;
	if (!strcmp(s, "nohugepage"))
		return MADV_NOHUGEPAGE;
	if (!strcmp(s, "none"))
		return 0;
	usage();
	return 0;
}

static void parse_args(struct options *o, int argc, char **argv)
{
	int i, named_regions = 0, named_phases = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--loop")) {
			o->loop = 1;
			continue;
		}
		if (!v)
			usage();
		if (!strcmp(a, "--hot")) o->regions[0].size = parse_size(v);
		else if (!strcmp(a, "--cold")) o->regions[1].size = parse_size(v);
		else if (!strcmp(a, "--region")) add_region(o, v, &named_regions);
		else if (!strcmp(a, "--phase")) add_phase(o, v, &named_phases);
		else if (!strcmp(a, "--stride")) o->stride = parse_size(v);
		else if (!strcmp(a, "--rate")) o->rate = atof(v);
		else if (!strcmp(a, "--phases")) parse_phases(o, v);
		else if (!strcmp(a, "--madvise")) o->madv = parse_madvise(v);
		else if (!strcmp(a, "--first-touch-node")) o->node = atoi(v);
		else if (!strcmp(a, "--tlb-flush")) o->tlb_flush_ms = atof(v);
		else if (!strcmp(a, "--small-vma-below"))
			o->small_vma_below = parse_size(v);
		else usage();
		i++;
	}
	if (!o->stride)
		usage();
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * Each region gets a PROT_NONE reservation of its own, 2 MiB aligned with a
 * PROT_NONE guard after it, so it is a VMA of its own. Later regions sit
 * FAR_GAP below the first: a gap that large is one of the two DAMON vaddr
 * uses to split the address space, so no DAMON region ever spans a hot and
 * a cold region (which would make an action hit the cold one too).
 *
 * Nothing is mapped right below a region: the reservation's unaligned head
 * is unmapped, and the TLB flush area is mapped before the regions, so it
 * lies above them (mmap allocates top-down). MADV_COLLAPSE fails with
 * EINVAL on a VMA that cannot hold a huge page and madvise stops at the
 * first VMA that fails, so such a VMA at the start of a DAMON region keeps
 * the whole region from collapsing; a hole there is skipped. Above a region
 * its guard is harmless: madvise reaches it after the region's own VMA.
 * --small-vma-below puts such a VMA there on purpose, as a finding.
 */
#define FAR_GAP (4UL << 40)

static unsigned char *reserve(size_t size, uintptr_t hint)
{
	size_t total = align_up(size, HUGE_SZ) + 2 * HUGE_SZ;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *p = MAP_FAILED;
	uintptr_t start;

	if (hint)
		p = mmap((void *)hint, total, PROT_NONE,
			 flags | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		p = mmap(NULL, total, PROT_NONE, flags, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	start = align_up((uintptr_t)p, HUGE_SZ);
	if (start > (uintptr_t)p && munmap(p, start - (uintptr_t)p))
		die("munmap");
	return (unsigned char *)start;
}

static void map_regions(struct region *r, int n, int madv)
{
	uintptr_t hint = 0;
	int i;

	for (i = 0; i < n; i++) {
		r[i].start = reserve(r[i].size, hint);
		if (!hint && (uintptr_t)r[i].start > 2 * FAR_GAP)
			hint = (uintptr_t)r[i].start - FAR_GAP;
		else if (hint)
			hint -= FAR_GAP;
		if (!r[i].size)
			continue;
		if (mprotect(r[i].start, r[i].size, PROT_READ | PROT_WRITE))
			die("mprotect");
		if (madv && madvise(r[i].start, r[i].size, madv))
			die("madvise");
	}
}

/*
 * A separate VMA of `size` bytes right below the first region, which then
 * starts there: mapped without MAP_NORESERVE, so it never merges with the
 * region's VMA, and too small to hold a huge page.
 */
static void add_small_vma_below(struct region *r, size_t size)
{
	void *p = mmap(r->start - size, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		die("mmap small VMA below");
	r->start -= size;
	r->size += size;
}

static long set_policy(int mode, int node)
{
	unsigned long mask = node >= 0 ? 1UL << node : 0;

	return syscall(SYS_set_mempolicy, mode, mode ? &mask : NULL,
		       mode ? sizeof(mask) * 8 : 0);
}

/* More pages than x86's single-page flush ceiling (33): a full flush. */
#define FLUSH_PAGES 64
static unsigned char *flush_area;

static void setup_tlb_flush(void)
{
	size_t sz = FLUSH_PAGES * 4096UL;

	flush_area = mmap(NULL, sz, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (flush_area == MAP_FAILED)
		die("mmap flush area");
	memset(flush_area, 1, sz);
}

static void tlb_flush(void)
{
	size_t sz = FLUSH_PAGES * 4096UL;

	if (madvise(flush_area, sz, MADV_DONTNEED))
		die("madvise flush area");
	memset(flush_area, 1, sz);
}

static void sweep(const struct region *r, size_t stride)
{
	volatile unsigned char *p = r->start;
	size_t off;

	for (off = 0; off < r->size; off += stride)
		p[off]++;
}

static double now(void);

static void maybe_tlb_flush(const struct options *o)
{
	static double last;
	double t;

	if (!flush_area)
		return;
	t = now();
	if ((t - last) * 1000 < o->tlb_flush_ms)
		return;
	tlb_flush();
	last = t;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_for(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* The workload's own progress, for DAMON's cost to it: rounds since ready. */
static unsigned long long rounds;
static double ready_at, reported_at;

static void report_progress(void)
{
	double t = now();

	if (t - reported_at < 1)
		return;
	printf("progress rounds=%llu seconds=%.3f\n", rounds, t - ready_at);
	fflush(stdout);
	reported_at = t;
}

static int sweeps_any(const struct phase *ph, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (ph->weight[i])
			return 1;
	return 0;
}

static volatile sig_atomic_t phase_ends;

static void end_phase(int sig)
{
	(void)sig;
	phase_ends++;
}

static void run_phase(const struct phase *ph, const struct options *o)
{
	double end = ph->seconds > 0 ? now() + ph->seconds : 1e300;
	sig_atomic_t ends_before = phase_ends;
	int i, k;

	printf("phase name=%s seconds=%g\n", ph->name, ph->seconds);
	fflush(stdout);
	while (now() < end && phase_ends == ends_before) {
		double t0 = now();

		report_progress();
		if (!sweeps_any(ph, o->nr_regions)) {
			sleep_for(end - t0 < 1 ? end - t0 : 1);
			continue;
		}
		for (i = 0; i < o->nr_regions; i++)
			for (k = 0; k < ph->weight[i]; k++)
				sweep(&o->regions[i], o->stride);
		rounds++;
		maybe_tlb_flush(o);
		if (o->rate > 0)
			sleep_for(1.0 / o->rate - (now() - t0));
	}
}

int main(int argc, char **argv)
{
	struct options o = { .stride = 4096, .node = -1, .nr_phases = 1,
			     .tlb_flush_ms = 0, .nr_regions = 2,
			     .regions = { { "hot", NULL, 64UL << 20 },
					  { "cold", NULL, 64UL << 20 } },
			     .phases = { { "hot", 0, { 1 } } } };
	int i;

	parse_args(&o, argc, argv);
	signal(SIGUSR1, end_phase);
	if (o.tlb_flush_ms > 0)
		setup_tlb_flush();
	map_regions(o.regions, o.nr_regions, o.madv);
	if (o.small_vma_below)
		add_small_vma_below(&o.regions[0], o.small_vma_below);
	if (o.node >= 0 && set_policy(MPOL_BIND_, o.node))
		die("set_mempolicy");
	for (i = 0; i < o.nr_regions; i++)
		sweep(&o.regions[i], 4096);
	if (o.node >= 0 && set_policy(MPOL_DEFAULT_, -1))
		die("set_mempolicy");
	for (i = 0; i < o.nr_regions; i++)
		printf("region name=%s start=%p end=%p size=%zu\n",
		       o.regions[i].name, (void *)o.regions[i].start,
		       (void *)(o.regions[i].start + o.regions[i].size),
		       o.regions[i].size);
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	ready_at = reported_at = now();
	do {
		for (i = 0; i < o.nr_phases; i++)
			run_phase(&o.phases[i], &o);
	} while (o.loop);
	printf("done\n");
	fflush(stdout);
	return 0;
}
