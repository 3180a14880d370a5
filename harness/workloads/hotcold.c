/*
 * hotcold: a hot/cold memory toucher for DAMON tests.
 *
 * Maps a hot and a cold anonymous region, each 2 MiB aligned and in a VMA of
 * its own, 4 TiB apart (see map_regions()), touches both once, prints
 * one machine-readable line per region, then follows a phase schedule:
 *   hot  sweep the hot region       cold  sweep the cold region
 *   all  sweep both                 idle  sleep
 * A phase of 0 seconds lasts until the process is killed.
 *
 * Under QEMU TCG the emulated TLB is large and is not flushed when DAMON
 * clears a PTE's Accessed bit (x86 skips that flush), so re-touched pages
 * never get the bit set again and hot memory looks cold. With --tlb-flush MS
 * (default 5; 0 turns it off) a sweep is followed, at most every MS
 * milliseconds, by MADV_DONTNEED on a small mapping of its own, which makes
 * the kernel flush this mm's TLB. It takes mmap_lock only for reading, so
 * DAMON and MADV_COLLAPSE are not held up.
 *
 * Output (stdout, flushed):
 *   region name=hot start=0x7f... end=0x7f... size=67108864
 *   region name=cold start=0x7f... end=0x7f... size=67108864
 *   ready pid=1234
 *   phase name=hot seconds=30
 *   done
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HUGE_SZ (2UL << 20)
#define MAX_PHASES 32
#define MPOL_DEFAULT_ 0
#define MPOL_BIND_ 2

struct region {
	const char *name;
	unsigned char *start;
	size_t size;
};

struct phase {
	char kind[8];
	double seconds;
};

struct options {
	size_t hot, cold, stride;
	double rate;
	int madv;
	int node;
	double tlb_flush_ms;
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
		"usage: hotcold [--hot SIZE] [--cold SIZE] [--stride BYTES]\n"
		"               [--rate SWEEPS_PER_SEC] [--phases KIND:SEC,...]\n"
		"               [--madvise hugepage|nohugepage|none]\n"
		"               [--first-touch-node N] [--tlb-flush MS]\n");
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

static int valid_kind(const char *k)
{
	return !strcmp(k, "hot") || !strcmp(k, "cold") ||
	       !strcmp(k, "all") || !strcmp(k, "idle");
}

static void parse_phases(struct options *o, char *spec)
{
	char *save = NULL, *tok;

	o->nr_phases = 0;
	for (tok = strtok_r(spec, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		struct phase *p = &o->phases[o->nr_phases];
		char *colon = strchr(tok, ':');

		if (o->nr_phases == MAX_PHASES || !colon ||
		    colon - tok >= (long)sizeof(p->kind))
			usage();
		memcpy(p->kind, tok, colon - tok);
		p->kind[colon - tok] = '\0';
		p->seconds = atof(colon + 1);
		if (!valid_kind(p->kind) || p->seconds < 0)
			usage();
		o->nr_phases++;
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
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (!strcmp(a, "--hot")) o->hot = parse_size(v);
		else if (!strcmp(a, "--cold")) o->cold = parse_size(v);
		else if (!strcmp(a, "--stride")) o->stride = parse_size(v);
		else if (!strcmp(a, "--rate")) o->rate = atof(v);
		else if (!strcmp(a, "--phases")) parse_phases(o, v);
		else if (!strcmp(a, "--madvise")) o->madv = parse_madvise(v);
		else if (!strcmp(a, "--first-touch-node")) o->node = atoi(v);
		else if (!strcmp(a, "--tlb-flush")) o->tlb_flush_ms = atof(v);
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
 */
#define FAR_GAP (4UL << 40)

static unsigned char *reserve(size_t size, uintptr_t hint)
{
	size_t total = align_up(size, HUGE_SZ) + 2 * HUGE_SZ;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *p = MAP_FAILED;

	if (hint)
		p = mmap((void *)hint, total, PROT_NONE,
			 flags | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		p = mmap(NULL, total, PROT_NONE, flags, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	return (unsigned char *)align_up((uintptr_t)p, HUGE_SZ);
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

static void run_phase(const struct phase *ph, struct region *r,
		      const struct options *o)
{
	int hot = !strcmp(ph->kind, "hot") || !strcmp(ph->kind, "all");
	int cold = !strcmp(ph->kind, "cold") || !strcmp(ph->kind, "all");
	double end = ph->seconds > 0 ? now() + ph->seconds : 1e300;

	printf("phase name=%s seconds=%g\n", ph->kind, ph->seconds);
	fflush(stdout);
	while (now() < end) {
		double t0 = now();

		if (!hot && !cold) {
			sleep_for(end - t0 < 1 ? end - t0 : 1);
			continue;
		}
		if (hot)
			sweep(&r[0], o->stride);
		if (cold)
			sweep(&r[1], o->stride);
		maybe_tlb_flush(o);
		if (o->rate > 0)
			sleep_for(1.0 / o->rate - (now() - t0));
	}
}

int main(int argc, char **argv)
{
	struct options o = { .hot = 64UL << 20, .cold = 64UL << 20,
			     .stride = 4096, .node = -1, .nr_phases = 1,
			     .tlb_flush_ms = 5,
			     .phases = { { "hot", 0 } } };
	struct region r[2] = { { "hot", NULL, 0 }, { "cold", NULL, 0 } };
	int i;

	parse_args(&o, argc, argv);
	r[0].size = o.hot;
	r[1].size = o.cold;
	map_regions(r, 2, o.madv);
	if (o.tlb_flush_ms > 0)
		setup_tlb_flush();
	if (o.node >= 0 && set_policy(MPOL_BIND_, o.node))
		die("set_mempolicy");
	for (i = 0; i < 2; i++)
		sweep(&r[i], 4096);
	if (o.node >= 0 && set_policy(MPOL_DEFAULT_, -1))
		die("set_mempolicy");
	for (i = 0; i < 2; i++)
		printf("region name=%s start=%p end=%p size=%zu\n", r[i].name,
		       (void *)r[i].start, (void *)(r[i].start + r[i].size),
		       r[i].size);
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	for (i = 0; i < o.nr_phases; i++)
		run_phase(&o.phases[i], r, &o);
	printf("done\n");
	fflush(stdout);
	return 0;
}
