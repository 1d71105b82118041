#include "subid.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>

/* shadow-utils' subordinate_parse copies a line into a buffer of 1024 bytes
 * and takes a longer one for no entry at all. */
#define SHADOW_LINE_MAX 1023

/* Longest name written into a file: LOGIN_NAME_MAX. */
#define NAME_MAX_LEN 256

/* ---- small helpers ------------------------------------------------------------------------ */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* The last id of a block [start, start + count), for messages (count > 0). */
static uint64_t last_id(uint64_t start, uint64_t count)
{
	return sat_add(start, count - 1);
}

/* Text of a file or of NSS in a message: control characters, DEL, bytes
 * past ASCII and '\' as \xNN (docs/conventions.md, 5), at most 64 bytes. */
static char *esc(const char *s, size_t n)
{
	size_t shown = n > 64 ? 64 : n;
	char *out = phpc_xmalloc(shown * 4 + 4);
	size_t o = 0;
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (shown < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static char *esc_str(const char *s)
{
	return esc(s, strlen(s));
}

/* The length of the white space character that s[0..n) starts with, as
 * podman trims it from each line (Go's strings.TrimSpace, unicode.IsSpace):
 * ASCII tab, newline, \v, \f, \r and space, and in UTF-8 U+0085, U+00A0,
 * U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F and U+3000. 0 when
 * it starts with none. */
static size_t space_at(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	if (n >= 1 && (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r')))
		return 1;
	if (n >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
		return 2;
	if (n < 3)
		return 0;
	if ((p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80) ||
	    (p[0] == 0xe2 && p[1] == 0x80 &&
	     ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf)) ||
	    (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) ||
	    (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80))
		return 3;
	return 0;
}

/* The same for the white space character s[0..n) ends with. */
static size_t space_before(const char *s, size_t n)
{
	for (size_t k = 1; k <= 3 && k <= n; k++)
		if (space_at(s + n - k, k) == k)
			return k;
	return 0;
}

/* Whether s[0..n) holds a control character: C0, DEL, or C1 in UTF-8. */
static bool has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
		     (unsigned char)s[i + 1] <= 0x9f))
			return true;
	}
	return false;
}

/* How a number was written, beyond its value. */
struct num_form {
	bool octal; /* a leading 0: a reader would likely take it for decimal */
	bool hex;   /* 0x */
	bool space; /* leading white space */
	bool minus; /* a '-': strtoul negates, -1 is 18446744073709551615 */
};

/* A number as shadow-utils' getulong reads one (strtoul with base 0):
 * leading white space, an optional '+', then 0x hexadecimal, 0 octal or
 * decimal digits up to the end. */
static bool parse_num(const char *s, size_t n, uint64_t *out, struct num_form *form)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\v' || s[i] == '\f' ||
	                 s[i] == '\r' || s[i] == '\n'))
		i++;
	*form = (struct num_form){.space = i > 0};
	if (i < n && (s[i] == '+' || s[i] == '-'))
		form->minus = s[i++] == '-';
	unsigned base = 10;
	if (n - i > 1 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		base = 16;
		form->hex = true;
		i += 2;
	} else if (n - i > 1 && s[i] == '0') {
		base = 8;
		form->octal = true;
	}
	if (i >= n)
		return false;
	uint64_t v = 0;
	for (; i < n; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a') + 10;
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A') + 10;
		else
			return false;
		if (d >= base || v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = form->minus ? 0 - v : v;
	return true;
}

/* Whether s reads as a uid to strtoumax in base 10, as shadow-utils from
 * 4.20 on read owners and callers' names (getpw_uid_or_nam): white space,
 * a '+', leading zeros. */
static bool reads_as_number(const char *s, uint32_t *uid)
{
	size_t i = 0;
	while (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))
		i++;
	/* strtou_noneg takes "-0" for 0: the only negative number it takes */
	bool minus = s[i] == '-';
	if (s[i] == '+' || minus)
		i++;
	if (s[i] < '0' || s[i] > '9')
		return false;
	uint64_t v = 0;
	for (; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	if (minus && v != 0)
		return false;
	*uid = (uint32_t)v;
	return true;
}

/* Whether s is a uid as newuidmap writes it to compare with an owner
 * ("%lu": decimal, no leading zero), and which. */
static bool canonical_uid(const char *s, uint32_t *uid)
{
	size_t n = strlen(s);
	if (n == 0 || n > 10 || (s[0] == '0' && n > 1))
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*uid = (uint32_t)v;
	return true;
}

/* ---- parsing ------------------------------------------------------------------------------ */

/* "NAME line N: message" into f->warnings, or f->broken when breaks. */
static void warn(struct phpc_subid_file *f, bool breaks, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void warn(struct phpc_subid_file *f, bool breaks, size_t line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = phpc_xvasprintf(fmt, ap);
	va_end(ap);
	phpc_strv_addf(breaks ? &f->broken : &f->warnings, "%s line %zu: %s", f->name, line, msg);
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* A line that is not an entry, or not wholly one: shown (escaped) with why. */
static void warn_line(struct phpc_subid_file *f, bool breaks, size_t line, const char *s, size_t n,
                      const char *why)
{
	_cleanup_free_ char *shown = esc(s, n);
	warn(f, breaks, line, "\"%s\" %s", shown, why);
}

/* What users of the node lose to a line that breaks a file, and the way out. */
#define ALL_USERS_FAIL                                                                      \
	"so no user of this node can start a rootless container (podman-hpc, podman); fix " \
	"the line by hand"

/* What podman makes of a line. podman (containers/storage's
 * parseSubidFile) reads every line before it looks for the user's: with a
 * bufio.Scanner (lines up to 64 KiB), each trimmed of white space
 * (strings.TrimSpace); it skips blank lines and those that start with '#',
 * and fails on the first other line that is not three ':'-separated
 * fields, whoever's it is. */
enum podman_view {
	PODMAN_SKIPS,
	PODMAN_ENTRY,   /* three fields: the entry of the user it names */
	PODMAN_REFUSES, /* the whole file, for everyone: *why says why */
};

static enum podman_view podman_reads(const char *s, size_t n, const char **why)
{
	*why = "is longer than the 64 KiB podman reads as a line: podman refuses the file, or "
	       "ignores the rest of it; fix the line by hand";
	if (n >= 65536)
		return PODMAN_REFUSES;
	size_t k;
	while (n && (k = space_at(s, n))) {
		s += k;
		n -= k;
	}
	while (n && (k = space_before(s, n)))
		n -= k;
	if (n == 0 || s[0] == '#')
		return PODMAN_SKIPS;
	size_t colons = 0;
	for (size_t i = 0; i < n; i++)
		colons += s[i] == ':';
	*why = "is not three fields, owner:start:count: podman (containers/storage) refuses the "
	       "whole file over such a line, " ALL_USERS_FAIL;
	return colons == 2 ? PODMAN_ENTRY : PODMAN_REFUSES;
}

static void parse_line(struct phpc_subid_file *f, const char *s, size_t n, size_t line, size_t *cap)
{
	const char *why;
	enum podman_view podman = podman_reads(s, n, &why);
	if (podman == PODMAN_REFUSES)
		warn_line(f, true, line, s, n, why);
	/* once podman's reason is given, the line is not warned about again for
	 * what newuidmap makes of it */
	bool told = podman == PODMAN_REFUSES;
	/* a line newuidmap ignores but podman takes for an entry: podman asks
	 * newuidmap for its range, which it refuses */
	const char *also = podman == PODMAN_ENTRY ? ", and podman fails for the user it names" : "";
	if (is_blank(s, n) || s[0] == '#')
		return;
	/* NIS compat lines: shadow-utils keeps them without reading them */
	if (s[0] == '+' || s[0] == '-')
		return;
	const char *nul = memchr(s, '\0', n);
	if (nul) {
		/* shadow-utils reads lines with getline and wants the '\n' in what
		 * strchr sees: a NUL before it is "Non-text file", and the whole
		 * file is refused (older versions read up to the NUL, as this does) */
		warn(f, true, line,
		     "holds a NUL byte: newer shadow-utils (newuidmap, useradd) refuse the whole "
		     "file as \"Non-text file\", " ALL_USERS_FAIL);
		n = (size_t)(nul - s);
		if (is_blank(s, n))
			return;
	}
	if (n > SHADOW_LINE_MAX) {
		if (!told)
			warn(
			    f, false, line,
			    "longer than the %d bytes newuidmap reads: it ignores the line%s; kept "
			    "as it is",
			    SHADOW_LINE_MAX, also);
		return;
	}
	const char *c1 = memchr(s, ':', n);
	const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - s)) : NULL;
	const char *c3 = c2 ? memchr(c2 + 1, ':', n - (size_t)(c2 + 1 - s)) : NULL;
	const char *end = c3 ? c3 : s + n;
	if (!c2 || c1 == s || c2 == c1 + 1 || c2 + 1 == end) {
		if (!told) {
			_cleanup_free_ char *w = phpc_xasprintf(
			    "is not owner:start:count: newuidmap ignores it%s; kept as it is",
			    also);
			warn_line(f, false, line, s, n, w);
		}
		return;
	}
	uint64_t start, count;
	struct num_form fs, fc;
	if (!parse_num(c1 + 1, (size_t)(c2 - c1 - 1), &start, &fs) ||
	    !parse_num(c2 + 1, (size_t)(end - c2 - 1), &count, &fc)) {
		if (!told) {
			_cleanup_free_ char *w = phpc_xasprintf(
			    "has a start or count that is not a number: newuidmap ignores the "
			    "line%s; kept as it is",
			    also);
			warn_line(f, false, line, s, n, w);
		}
		return;
	}
	if (c3 && !told)
		warn_line(f, false, line, s, n,
		          "has more than three fields: newuidmap ignores the others");
	struct phpc_subid_entry e = {
	    .owner = phpc_xstrndup(s, (size_t)(c1 - s)),
	    .start = start,
	    .count = count,
	    .line = line,
	};
	size_t on = (size_t)(c1 - s);
	if (space_at(s, on)) {
		/* podman trims the line, newuidmap does not: they read the entry as
		 * different owners' (white space before the ':' stays for both) */
		_cleanup_free_ char *owner = esc_str(e.owner);
		warn(f, false, line,
		     "the owner \"%s\" starts with white space, which podman trims and "
		     "newuidmap does not: podman takes the entry for the trimmed name's, and "
		     "newuidmap refuses it to that user, so podman fails for them; remove the "
		     "white space by hand",
		     owner);
	}
	if (fs.hex || fs.space || fc.hex || fc.space) {
		/* Debian's podman reads the files through libsubid (shadow-utils'
		 * parser, as newuidmap); one built without it parses them with
		 * strconv.Atoi, which takes decimal digits only */
		const struct num_form *odd = fs.hex || fs.space ? &fs : &fc;
		_cleanup_free_ char *owner = esc_str(e.owner);
		warn(f, false, line,
		     "%s's %s is %s, which newuidmap reads but a podman built without libsubid "
		     "does not (it then fails for that user); write it in decimal",
		     owner, odd == &fs ? "start" : "count",
		     odd->hex ? "hexadecimal" : "preceded by white space");
	}
	if (fs.minus || fc.minus) {
		/* shadow-utils before 4.15 read numbers with strtoul, which takes
		 * a '-' and negates: such a count reaches past every id */
		_cleanup_free_ char *owner = esc_str(e.owner);
		warn(f, false, line,
		     "%s's %s is negative: newuidmap before shadow-utils 4.15 reads it as %" PRIu64
		     ", giving %s ids that are not its own (other users', root's); remove the line",
		     owner, fs.minus ? "start" : "count", fs.minus ? start : count, owner);
	}
	if (fs.octal || fc.octal || count == 0 || start > PHPC_SUBID_LIMIT - 1 ||
	    count > PHPC_SUBID_LIMIT - start) {
		_cleanup_free_ char *owner = esc_str(e.owner);
		if (fs.octal || fc.octal)
			warn(f, false, line,
			     "%s's %s has a leading 0, so newuidmap reads it as octal: %" PRIu64
			     "; write it in decimal",
			     owner, fs.octal ? "start" : "count", fs.octal ? start : count);
		if (count == 0 && start == 0)
			/* find_range's last id, start + count - 1, wraps to the
			 * largest: the entry covers every id */
			warn(f, false, line,
			     "%s has a start and a count of 0, which newuidmap reads as every "
			     "id, root's included; remove the line",
			     owner);
		else if (count == 0)
			warn(f, false, line, "%s has a count of 0, which gives no ids", owner);
		else if (start > PHPC_SUBID_LIMIT - 1 || count > PHPC_SUBID_LIMIT - start)
			warn(f, false, line,
			     "%s's block %" PRIu64 "-%" PRIu64 " ends past 4294967295, the last "
			     "id: newuidmap cannot map what lies beyond",
			     owner, start, last_id(start, count));
	}
	if (f->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		f->v = phpc_xrealloc(f->v, *cap * sizeof(*f->v));
	}
	f->v[f->n++] = e;
}

static bool lacks_final_newline(const struct phpc_subid_file *f)
{
	return f->len && f->text[f->len - 1] != '\n';
}

bool phpc_subid_changes(const struct phpc_subid_file *f, size_t n)
{
	return n || lacks_final_newline(f);
}

void phpc_subid_parse(const char *name, const char *text, size_t len, struct phpc_subid_file *f)
{
	memset(f, 0, sizeof(*f));
	f->name = phpc_xstrdup(name);
	f->text = phpc_xmalloc(len + 1);
	if (len)
		memcpy(f->text, text, len);
	f->text[len] = '\0';
	f->len = len;
	size_t cap = 0;
	const char *p = f->text, *end = f->text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		parse_line(f, p, (size_t)(le - p), ++f->lines, &cap);
		p = le + (nl ? 1 : 0);
	}
	if (lacks_final_newline(f))
		warn(f, false, f->lines,
		     "the last, has no newline at its end: newer shadow-utils (newuidmap, useradd) "
		     "refuse such a file as \"Non-text file\"; the newline is added");
}

void phpc_subid_file_clear(struct phpc_subid_file *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].owner);
	free(f->v);
	free(f->text);
	free(f->name);
	phpc_strv_clear(&f->warnings);
	phpc_strv_clear(&f->broken);
	memset(f, 0, sizeof(*f));
}

/* ---- schemes ------------------------------------------------------------------------------ */

bool phpc_subid_block(const struct phpc_subid_params *p, uint32_t uid, uint64_t *start)
{
	if (p->scheme == PHPC_SUBID_MULTIPLY) {
		*start = sat_add(sat_mul(uid, p->multiplier), p->offset);
	} else if (uid < p->uid_min) {
		*start = UINT64_MAX;
		return false;
	} else {
		*start = sat_add(p->base, sat_mul(uid - p->uid_min, p->count));
	}
	return p->count <= PHPC_SUBID_LIMIT && *start <= PHPC_SUBID_LIMIT - p->count;
}

/* The largest uid whose block ends by 2^32; false when none does. */
static bool last_fitting_uid(const struct phpc_subid_params *p, uint64_t *uid)
{
	uint64_t room;
	if (p->scheme == PHPC_SUBID_MULTIPLY) {
		if (sat_add(p->offset, p->count) > PHPC_SUBID_LIMIT)
			return false;
		room = PHPC_SUBID_LIMIT - p->offset - p->count;
		*uid = p->multiplier ? room / p->multiplier : UINT32_MAX;
	} else {
		if (sat_add(p->base, p->count) > PHPC_SUBID_LIMIT)
			return false;
		room = PHPC_SUBID_LIMIT - p->base - p->count;
		*uid = p->uid_min + room / p->count;
	}
	if (*uid > UINT32_MAX)
		*uid = UINT32_MAX;
	return true;
}

/* What an admin changes when blocks end past 2^32. */
static const char *overflow_fix(const struct phpc_subid_params *p)
{
	return p->scheme == PHPC_SUBID_MULTIPLY
	           ? "use --scheme offset, or a smaller --multiplier and --count"
	           : "lower --base or --count, or narrow --uid-min..--uid-max";
}

int phpc_subid_params_check(const struct phpc_subid_params *p, struct phpc_error **err)
{
	if (p->count == 0 || p->count > PHPC_SUBID_LIMIT)
		return phpc_error_set(
		    err, EINVAL, "--count %" PRIu64 ": give a number of ids from 1 to 4294967296",
		    p->count);
	if (p->uid_min > p->uid_max)
		return phpc_error_set(err, EINVAL,
		                      "--uid-min %" PRIu32 " is above --uid-max %" PRIu32
		                      ": give the lowest uid first",
		                      p->uid_min, p->uid_max);
	if (p->scheme == PHPC_SUBID_MULTIPLY) {
		/* uid u's block ends at u*M + O + count - 1; uid u+1's starts at
		 * (u+1)*M + O. With M < count the first count - M ids of u+1's
		 * block are also u's: u's containers could own u+1's container
		 * files and signal or ptrace its container processes. A multiplier
		 * of 10000 with 65536 ids, a setting seen at sites, does this. */
		if (p->multiplier < p->count)
			return phpc_error_set(
			    err, EINVAL,
			    "--multiplier %" PRIu64 " is smaller than --count %" PRIu64
			    ": the blocks of adjacent uids would overlap, and one user's "
			    "containers could own another's files and signal its processes; use "
			    "--count %" PRIu64 " to keep these starts, or --scheme offset",
			    p->multiplier, p->count, p->multiplier);
		if (p->multiplier > PHPC_SUBID_LIMIT || p->offset >= PHPC_SUBID_LIMIT)
			return phpc_error_set(err, EINVAL,
			                      "--multiplier %" PRIu64 " --offset %" PRIu64
			                      ": give values below 4294967296",
			                      p->multiplier, p->offset);
	} else if (p->base >= PHPC_SUBID_LIMIT) {
		return phpc_error_set(err, EINVAL,
		                      "--base %" PRIu64 ": give a value below 4294967296", p->base);
	}
	uint64_t first;
	bool fits = phpc_subid_block(p, p->uid_min, &first);
	/* a block holding a real user's uid lets its owner act as that user */
	if (first <= p->uid_max)
		return phpc_error_set(
		    err, EINVAL,
		    "the block of uid %" PRIu32 " (--uid-min) would start at %" PRIu64
		    ", not above --uid-max %" PRIu32 ", so blocks would hold the uids of users "
		    "in range: raise %s above %" PRIu32,
		    p->uid_min, first, p->uid_max,
		    p->scheme == PHPC_SUBID_MULTIPLY ? "--multiplier or --offset" : "--base",
		    p->uid_max);
	if (!fits)
		return phpc_error_set(err, EINVAL,
		                      "even the block of uid %" PRIu32 " (--uid-min), %" PRIu64
		                      "-%" PRIu64 ", would end past 4294967295, the last id: %s",
		                      p->uid_min, first, last_id(first, p->count), overflow_fix(p));
	return 0;
}

/* ---- lookups ------------------------------------------------------------------------------ */

/* The length of the leading run of a sorted sequence of n elements for
 * which below(ctx, i) holds (the first i where it does not): every lookup
 * of a plan is one of these, O(log n). */
static size_t count_below(size_t n, bool (*below)(const void *ctx, size_t i), const void *ctx)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (below(ctx, mid))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A block of an existing entry, [first, end). */
struct span {
	uint64_t first, end;
	size_t entry;
};

/* A file's entries, sorted for the lookups of a plan. */
struct fileidx {
	const struct phpc_subid_file *f;
	struct span *s; /* blocks with a count, by first id */
	size_t n;
	size_t *best;        /* best[i]: the one of s[0..i] that ends last */
	const char **owners; /* every owner, sorted */
	uint32_t *numeric;   /* the owners that are uids, sorted */
	size_t n_owners, n_numeric;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->entry < y->entry ? -1 : x->entry > y->entry;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void index_file(const struct phpc_subid_file *f, struct fileidx *x)
{
	memset(x, 0, sizeof(*x));
	x->f = f;
	x->s = phpc_xcalloc(f->n, sizeof(*x->s));
	x->best = phpc_xcalloc(f->n, sizeof(*x->best));
	x->owners = phpc_xcalloc(f->n, sizeof(*x->owners));
	x->numeric = phpc_xcalloc(f->n, sizeof(*x->numeric));
	for (size_t i = 0; i < f->n; i++) {
		const struct phpc_subid_entry *e = &f->v[i];
		x->owners[x->n_owners++] = e->owner;
		uint32_t uid;
		if (canonical_uid(e->owner, &uid))
			x->numeric[x->n_numeric++] = uid;
		/* as find_range reads it: [start, start + count - 1], which for
		 * 0:0 wraps to every id (and past 2^64 is taken as reaching the
		 * end, not as the nothing it wraps to) */
		if (e->count || e->start == 0)
			x->s[x->n++] = (struct span){
			    e->start, e->count ? sat_add(e->start, e->count) : UINT64_MAX, i};
	}
	qsort(x->s, x->n, sizeof(*x->s), cmp_span);
	qsort(x->owners, x->n_owners, sizeof(*x->owners), cmp_str);
	qsort(x->numeric, x->n_numeric, sizeof(*x->numeric), cmp_u32);
	for (size_t i = 0; i < x->n; i++)
		x->best[i] = i && x->s[x->best[i - 1]].end >= x->s[i].end ? x->best[i - 1] : i;
}

static void index_clear(struct fileidx *x)
{
	free(x->s);
	free(x->best);
	free(x->owners);
	free(x->numeric);
}

/* An entry of x whose block shares an id with [first, end), or NULL: of the
 * blocks that start before end, the one that ends last is the only one to
 * look at. */
struct span_key {
	const struct fileidx *x;
	uint64_t end;
};

static bool span_starts_before(const void *ctx, size_t i)
{
	const struct span_key *k = ctx;
	return k->x->s[i].first < k->end;
}

static const struct phpc_subid_entry *overlapping(const struct fileidx *x, uint64_t first,
                                                  uint64_t end)
{
	struct span_key k = {x, end};
	size_t n = count_below(x->n, span_starts_before, &k);
	if (n == 0)
		return NULL;
	const struct span *b = &x->s[x->best[n - 1]];
	return b->end > first ? &x->f->v[b->entry] : NULL;
}

static bool has_owner(const struct fileidx *x, const char *name)
{
	return bsearch(&name, x->owners, x->n_owners, sizeof(*x->owners), cmp_str) != NULL;
}

static bool has_numeric(const struct fileidx *x, uint32_t uid)
{
	return bsearch(&uid, x->numeric, x->n_numeric, sizeof(*x->numeric), cmp_u32) != NULL;
}

/* The uids that can use an entry with this owner. newuidmap (shadow-utils'
 * find_range) takes the caller's name as getpwuid gives it and the uid
 * getpwnam gives for that name, its effective uid (effective_uid), and
 * matches an owner that is that name, that uid as "%lu", or a name getpwnam
 * gives that uid for; from 4.20 on, an owner that reads as a number is
 * that uid (reads_as_number). podman lists the ranges of the name and of
 * the effective uid in decimal (through libsubid, or containers/storage's
 * own parser). n: 0, 1, or 2 for two or more (uid[0..n) distinct; a
 * numeric owner's own uid first). */
struct claim {
	size_t n;
	uint32_t uid[2];
};

/* Users, by name and by uid: every user NSS listed, a name listed twice
 * with two uids included (both uids are real, and both find entries by
 * that name). */
struct users {
	const struct phpc_subid_user *u;
	size_t *byname; /* indices of u, by name then enumeration order */
	size_t *byuid;  /* the same indices, by uid then enumeration order */
	size_t n;
	/* by index of u: whether it is the first listed with its uid (what
	 * getpwuid gives), and the uid of the first listed with its name (what
	 * getpwnam gives) */
	bool *uid_first;
	uint32_t *name_uid;
	size_t *name_first; /* and the position in byname of the first with its name */
	/* by position in byname, for the first of each name: up to two
	 * distinct uids of which it is the first name (getpwuid's), n of them */
	struct claim *run;
	/* by index of u, for the first of each uid: the uids whose
	 * effective_uid it is, up to two (claim_effective) */
	struct claim *eff;
	/* the users whose name (getpwuid's) reads as another uid, by that
	 * number: shadow-utils from 4.20 on take them for it */
	struct numname {
		uint32_t n, uid;
	} * numname;
	size_t n_numname;
	struct idref *gids; /* distinct gids, primary groups' and groups', sorted */
	size_t n_gids;
};

/* A gid, with who has it for messages: the first user whose primary group
 * it is, else the first group listed with it. */
struct idref {
	uint32_t id;
	bool group;       /* a group's, not a user's primary one */
	size_t order;     /* the user's or group's index, in NSS's order */
	const char *name; /* the user's or group's */
};

static int cmp_byname(const void *a, const void *b, void *users)
{
	const struct phpc_subid_user *u = users;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(u[i].name, u[j].name);
	return c ? c : (i < j ? -1 : i > j);
}

static int cmp_byuid(const void *a, const void *b, void *users)
{
	const struct phpc_subid_user *u = users;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	if (u[i].uid != u[j].uid)
		return u[i].uid < u[j].uid ? -1 : 1;
	return i < j ? -1 : i > j;
}

static int cmp_idref(const void *a, const void *b)
{
	const struct idref *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->group != y->group)
		return x->group ? 1 : -1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void claim_add(struct claim *c, uint32_t uid)
{
	if (c->n < 2 && !(c->n == 1 && c->uid[0] == uid))
		c->uid[c->n++] = uid;
}

static int cmp_numname(const void *a, const void *b)
{
	const struct numname *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static void users_index(const struct phpc_subid_user *u, size_t n,
                        const struct phpc_subid_group *groups, size_t n_groups, struct users *us)
{
	memset(us, 0, sizeof(*us));
	us->u = u;
	us->n = n;
	us->byname = phpc_xcalloc(n, sizeof(*us->byname));
	for (size_t i = 0; i < n; i++)
		us->byname[i] = i;
	qsort_r(us->byname, n, sizeof(*us->byname), cmp_byname, (void *)u);
	us->byuid = phpc_xcalloc(n, sizeof(*us->byuid));
	memcpy(us->byuid, us->byname, n * sizeof(*us->byuid));
	qsort_r(us->byuid, n, sizeof(*us->byuid), cmp_byuid, (void *)u);
	us->uid_first = phpc_xcalloc(n ? n : 1, sizeof(*us->uid_first));
	us->name_uid = phpc_xcalloc(n ? n : 1, sizeof(*us->name_uid));
	us->name_first = phpc_xcalloc(n ? n : 1, sizeof(*us->name_first));
	for (size_t i = 0; i < n; i++) {
		size_t a = us->byuid[i], b = us->byname[i];
		us->uid_first[a] = i == 0 || u[us->byuid[i - 1]].uid != u[a].uid;
		bool same = i > 0 && streq(u[us->byname[i - 1]].name, u[b].name);
		us->name_uid[b] = same ? us->name_uid[us->byname[i - 1]] : u[b].uid;
		us->name_first[b] = same ? us->name_first[us->byname[i - 1]] : i;
	}
	us->numname = phpc_xcalloc(n ? n : 1, sizeof(*us->numname));
	for (size_t i = 0; i < n; i++) {
		uint32_t num;
		if (us->uid_first[i] && reads_as_number(u[i].name, &num) && num != u[i].uid)
			us->numname[us->n_numname++] = (struct numname){num, u[i].uid};
	}
	qsort(us->numname, us->n_numname, sizeof(*us->numname), cmp_numname);
	us->run = phpc_xcalloc(n ? n : 1, sizeof(*us->run));
	for (size_t i = 0; i < n; i++) {
		size_t b = us->byname[i];
		struct claim *r = &us->run[us->name_first[b]];
		if (us->uid_first[b])
			claim_add(r, u[b].uid);
	}
	us->eff = phpc_xcalloc(n ? n : 1, sizeof(*us->eff));
	for (size_t i = 0, first = 0; i < n; i++) {
		size_t a = us->byuid[i];
		if (us->uid_first[a])
			first = a;
		const struct claim *r = &us->run[us->name_first[a]];
		if (us->name_uid[a] == u[a].uid)
			for (size_t k = 0; k < r->n; k++)
				claim_add(&us->eff[first], r->uid[k]);
	}
	size_t n_ids = n + n_groups;
	us->gids = phpc_xcalloc(n_ids, sizeof(*us->gids));
	for (size_t i = 0; i < n; i++)
		us->gids[i] = (struct idref){u[i].gid, false, i, u[i].name};
	for (size_t i = 0; i < n_groups; i++)
		us->gids[n + i] = (struct idref){groups[i].gid, true, i, groups[i].name};
	qsort(us->gids, n_ids, sizeof(*us->gids), cmp_idref);
	for (size_t i = 0; i < n_ids; i++)
		if (i == 0 || us->gids[i].id != us->gids[us->n_gids - 1].id)
			us->gids[us->n_gids++] = us->gids[i];
}

static void users_clear(struct users *us)
{
	free(us->byname);
	free(us->byuid);
	free(us->uid_first);
	free(us->name_uid);
	free(us->name_first);
	free(us->run);
	free(us->eff);
	free(us->numname);
	free(us->gids);
}

struct user_key {
	const struct users *us;
	const char *name;
	uint64_t id;
};

static bool name_below(const void *ctx, size_t i)
{
	const struct user_key *k = ctx;
	return strcmp(k->us->u[k->us->byname[i]].name, k->name) < 0;
}

static bool uid_below(const void *ctx, size_t i)
{
	const struct user_key *k = ctx;
	return k->us->u[k->us->byuid[i]].uid < k->id;
}

static bool gid_below(const void *ctx, size_t i)
{
	const struct user_key *k = ctx;
	return k->us->gids[i].id < k->id;
}

/* The first position in byuid with a uid >= uid. */
static size_t uid_lower_bound(const struct users *us, uint64_t uid)
{
	struct user_key k = {us, NULL, uid};
	return count_below(us->n, uid_below, &k);
}

/* A user whose uid lies in [first, end), or NULL. */
static const struct phpc_subid_user *uid_within(const struct users *us, uint64_t first,
                                                uint64_t end)
{
	size_t i = uid_lower_bound(us, first);
	return i < us->n && us->u[us->byuid[i]].uid < end ? &us->u[us->byuid[i]] : NULL;
}

/* A distinct gid in [first, end), or NULL. */
static const struct idref *gid_within(const struct users *us, uint64_t first, uint64_t end)
{
	struct user_key k = {us, NULL, first};
	size_t i = count_below(us->n_gids, gid_below, &k);
	return i < us->n_gids && us->gids[i].id < end ? &us->gids[i] : NULL;
}

/* The first user NSS lists with uid, as getpwuid gives it, or NULL. */
static const struct phpc_subid_user *first_of_uid(const struct users *us, uint32_t uid)
{
	size_t i = uid_lower_bound(us, uid);
	return i < us->n && us->u[us->byuid[i]].uid == uid ? &us->u[us->byuid[i]] : NULL;
}

/* The first position in byname with that name, or us->n when NSS lists
 * no user of that name. */
static size_t name_pos(const struct users *us, const char *name)
{
	struct user_key k = {us, name, 0};
	size_t i = count_below(us->n, name_below, &k);
	return i < us->n && streq(us->u[us->byname[i]].name, name) ? i : us->n;
}

/* The uid newuidmap takes the caller of uid for: shadow-utils' find_range
 * looks up the caller's name (getpwuid's) with getpwnam, which gives the
 * first uid NSS lists under it. For a name listed for two uids that is the
 * first one's, so the second uid gets what the first has. */
static uint32_t effective_uid(const struct users *us, uint32_t uid)
{
	const struct phpc_subid_user *f = first_of_uid(us, uid);
	return f ? us->name_uid[f - us->u] : uid;
}

/* Adds the uids of which the name at byname position pos is the first. */
static void claim_run(const struct users *us, size_t pos, struct claim *c)
{
	for (size_t k = 0; k < us->run[pos].n; k++)
		claim_add(c, us->run[pos].uid[k]);
}

/* Adds the uids whose name reads as w (numname). */
static void claim_numname(const struct users *us, uint32_t w, struct claim *c)
{
	size_t lo = 0, hi = us->n_numname;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (us->numname[mid].n < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < us->n_numname && us->numname[lo].n == w && c->n < 2; lo++)
		claim_add(c, us->numname[lo].uid);
}

/* Adds the uids whose effective_uid is w: every uid whose name (getpwuid's)
 * is one getpwnam gives w for. */
static void claim_effective(const struct users *us, uint32_t w, struct claim *c)
{
	const struct phpc_subid_user *f = first_of_uid(us, w);
	if (!f)
		return;
	const struct claim *e = &us->eff[f - us->u];
	for (size_t k = 0; k < e->n; k++)
		claim_add(c, e->uid[k]);
}

/* owner_claim with pos = name_pos(us, owner). */
static struct claim claim_at(const struct users *us, const char *owner, size_t pos)
{
	struct claim c = {0};
	uint32_t n;
	/* shadow-utils from 4.20 on also read an owner that strtoumax takes
	 * as a number ("01001", "+1001") as that uid */
	if (reads_as_number(owner, &n)) {
		claim_add(&c, n);
		claim_effective(us, n, &c);
	}
	if (pos < us->n) {
		claim_run(us, pos, &c);
		claim_effective(us, us->u[us->byname[pos]].uid, &c);
	}
	/* and from 4.20 on, the users whose name reads as a uid it serves */
	for (size_t k = 0, m = c.n; k < m && c.n < 2; k++)
		claim_numname(us, c.uid[k], &c);
	return c;
}

static struct claim owner_claim(const struct users *us, const char *owner)
{
	return claim_at(us, owner, name_pos(us, owner));
}

/* Whether newuidmap gives uid an entry with this owner (owner_claim), pos
 * = name_pos(us, owner). */
static bool serves_at(const struct users *us, const char *owner, size_t pos, uint32_t uid)
{
	const struct phpc_subid_user *f = first_of_uid(us, uid);
	uint32_t e = f ? us->name_uid[f - us->u] : uid, n;
	return (f && streq(f->name, owner)) || (canonical_uid(owner, &n) && n == e) ||
	       (pos < us->n && us->u[us->byname[pos]].uid == e);
}

/* Whether an entry with this owner serves uid and no other uid. */
static bool only_at(const struct users *us, const char *owner, size_t pos, uint32_t uid)
{
	struct claim c = claim_at(us, owner, pos);
	return c.n == 1 && c.uid[0] == uid && serves_at(us, owner, pos, uid);
}

static bool owner_only(const struct users *us, const char *owner, uint32_t uid)
{
	return only_at(us, owner, name_pos(us, owner), uid);
}

/* Why the two uids of claim c (c->n == 2) both use an owner, for a message. */
static char *claim_why(const struct users *us, const char *owner, const struct claim *c)
{
	uint32_t n;
	const struct phpc_subid_user *f = first_of_uid(us, c->uid[1]);
	_cleanup_free_ char *name = esc_str(f ? f->name : "");
	if (reads_as_number(owner, &n) && n == c->uid[0] && !canonical_uid(owner, &n))
		return phpc_xasprintf("its owner reads as uid %" PRIu32 " to newuidmap from "
		                      "shadow-utils 4.20 on, and as the user with uid %" PRIu32
		                      " to older ones",
		                      c->uid[0], c->uid[1]);
	if (canonical_uid(owner, &n) && n == c->uid[0]) {
		if (f && streq(f->name, owner))
			return phpc_xasprintf("its owner is uid %" PRIu32
			                      " and also the name of the "
			                      "user with uid %" PRIu32,
			                      c->uid[0], c->uid[1]);
		return phpc_xasprintf("its owner is uid %" PRIu32 ", and NSS lists the name of uid "
		                      "%" PRIu32 ", %s, for uid %" PRIu32 " too",
		                      c->uid[0], c->uid[1], name, c->uid[0]);
	}
	const struct phpc_subid_user *f0 = first_of_uid(us, c->uid[0]);
	if (f0 && streq(f0->name, owner) && f && streq(f->name, owner))
		return phpc_xasprintf("NSS lists its owner for uid %" PRIu32
		                      " and for uid %" PRIu32,
		                      c->uid[0], c->uid[1]);
	return phpc_xasprintf("NSS lists the name of uid %" PRIu32 ", %s, for uid %" PRIu32
	                      " too, and newuidmap takes the first uid listed",
	                      c->uid[1], name, c->uid[0]);
}

/* Whether the entry's owner serves one uid only, and a user of that uid has
 * gid as primary group, so that the block holding gid is that user's own. */
static bool owner_has_gid(const struct users *us, const char *owner, uint32_t gid)
{
	struct claim c = owner_claim(us, owner);
	if (c.n != 1)
		return false;
	for (size_t i = uid_lower_bound(us, c.uid[0]);
	     i < us->n && us->u[us->byuid[i]].uid == c.uid[0]; i++)
		if (us->u[us->byuid[i]].gid == gid)
			return true;
	return false;
}

/* ---- the plan ----------------------------------------------------------------------------- */

static char *describe(const struct phpc_subid_entry *e)
{
	_cleanup_free_ char *owner = esc_str(e->owner);
	return phpc_xasprintf("line %zu (%s: %" PRIu64 "-%" PRIu64 ")", e->line, owner, e->start,
	                      last_id(e->start, e->count));
}

/* Existing entries of one file that share ids, each reported once (against
 * the block, among those that start before it, that ends last). Two
 * entries of one owner only give that user ids twice. */
static void report_overlaps(const struct fileidx *x, struct phpc_strv *out)
{
	for (size_t i = 1; i < x->n; i++) {
		const struct span *prev = &x->s[x->best[i - 1]];
		if (x->s[i].first >= prev->end)
			continue;
		const struct phpc_subid_entry *a = &x->f->v[prev->entry],
		                              *b = &x->f->v[x->s[i].entry];
		if (streq(a->owner, b->owner))
			continue;
		_cleanup_free_ char *da = describe(a);
		_cleanup_free_ char *db = describe(b);
		phpc_strv_addf(out,
		               "%s: %s and %s overlap: each one's containers can act as the "
		               "other's (own its files, signal its processes); change one of them "
		               "by hand",
		               x->f->name, da, db);
	}
}

/* Existing entries whose owner serves two uids or more (owner_claim): a
 * user named 3001 with uid 5000 and the user with uid 3001 both use an
 * entry "3001:...", and so do two uids that NSS lists under one name. */
static void report_shared(const struct fileidx *x, const struct users *us, struct phpc_strv *out)
{
	for (size_t i = 0; i < x->f->n; i++) {
		const struct phpc_subid_entry *e = &x->f->v[i];
		struct claim c = owner_claim(us, e->owner);
		if (c.n < 2)
			continue;
		_cleanup_free_ char *d = describe(e);
		_cleanup_free_ char *whose = claim_why(us, e->owner, &c);
		phpc_strv_addf(out,
		               "%s: %s: %s: newuidmap and podman let both use that block, and "
		               "each one's containers can act as the other's; write the uid of the "
		               "one it belongs to as its owner, or rename the other user",
		               x->f->name, d, whose);
	}
}

/* Whose gid it is, for a message: "primary group of user NAME", "group
 * NAME". */
static char *gid_whose(const struct idref *g)
{
	_cleanup_free_ char *name = esc_str(g->name);
	return phpc_xasprintf("%s %s", g->group ? "group" : "primary group of user", name);
}

/* Real ids inside someone else's existing block: every uid NSS lists for
 * subuid, every gid (users' primary groups and the groups) for subgid. */
static void report_ids_inside(const struct fileidx *ux, const struct fileidx *gx,
                              const struct users *us, struct phpc_strv *out)
{
	for (size_t i = 0; i < us->n; i++) {
		const struct phpc_subid_user *u = &us->u[us->byuid[i]];
		if (i && us->u[us->byuid[i - 1]].uid == u->uid)
			continue;
		const struct phpc_subid_entry *e = overlapping(ux, u->uid, (uint64_t)u->uid + 1);
		if (!e || owner_only(us, e->owner, u->uid))
			continue;
		_cleanup_free_ char *d = describe(e);
		_cleanup_free_ char *name = esc_str(u->name);
		_cleanup_free_ char *owner = esc_str(e->owner);
		phpc_strv_addf(out,
		               "%s: uid %" PRIu32 " of user %s lies inside %s: %s's containers can "
		               "act as %s (own its files, signal its processes); change that entry "
		               "by hand",
		               ux->f->name, u->uid, name, d, owner, name);
	}
	for (size_t i = 0; i < us->n_gids; i++) {
		const struct idref *g = &us->gids[i];
		const struct phpc_subid_entry *e = overlapping(gx, g->id, (uint64_t)g->id + 1);
		if (!e || owner_has_gid(us, e->owner, g->id))
			continue;
		_cleanup_free_ char *d = describe(e);
		_cleanup_free_ char *whose = gid_whose(g);
		_cleanup_free_ char *owner = esc_str(e->owner);
		phpc_strv_addf(out,
		               "%s: gid %" PRIu32 " (%s) lies inside %s: %s's containers can act "
		               "as that group; change that entry by hand",
		               gx->f->name, g->id, whose, d, owner);
	}
}

/* Why a name cannot be written as the owner of an entry, or NULL. */
static const char *name_problem(const char *name)
{
	size_t n = strlen(name);
	if (n == 0)
		return "is empty";
	if (n > NAME_MAX_LEN)
		return "is longer than 256 bytes";
	if (strchr(name, ':'))
		return "holds a ':', which separates the fields";
	if (has_control(name, n))
		return "holds a control character";
	/* " ann:B:C" is ann's range to podman, which trims each line, and
	 * " ann"'s to newuidmap */
	if (space_at(name, n) || space_before(name, n))
		return "starts or ends with white space, which podman trims from a line and "
		       "newuidmap does not: the two would read the entry as different users'";
	if (name[0] == '#' || name[0] == '+' || name[0] == '-')
		return "starts with '#', '+' or '-', which shadow-utils reads as a comment or a "
		       "NIS line";
	return NULL;
}

/* Why a block cannot go into file x, or NULL. */
static char *conflict(const struct fileidx *x, bool gids, const struct users *us, uint64_t first,
                      uint64_t end)
{
	const struct phpc_subid_entry *e = overlapping(x, first, end);
	if (e) {
		_cleanup_free_ char *d = describe(e);
		return phpc_xasprintf("would overlap %s %s", x->f->name, d);
	}
	if (!gids) {
		const struct phpc_subid_user *u = uid_within(us, first, end);
		if (u) {
			_cleanup_free_ char *name = esc_str(u->name);
			return phpc_xasprintf("would hold uid %" PRIu32 " of user %s in %s", u->uid,
			                      name, x->f->name);
		}
		return NULL;
	}
	const struct idref *g = gid_within(us, first, end);
	if (g) {
		_cleanup_free_ char *whose = gid_whose(g);
		return phpc_xasprintf("would hold gid %" PRIu32 " (%s) in %s", g->id, whose,
		                      x->f->name);
	}
	return NULL;
}

static void push_new(struct phpc_subid_new **v, size_t *n, const struct phpc_subid_user *u,
                     bool by_uid, uint64_t start, uint64_t count)
{
	/* at most one a uid; *v was sized for every user */
	(*v)[(*n)++] = (struct phpc_subid_new){u->name, u->uid, by_uid, start, count};
}

/* Why name, the first of uid, cannot be an owner for it alone (it reads as
 * another uid), or NULL. */
static char *name_shared(const struct users *us, const char *name, uint32_t uid)
{
	uint32_t n;
	if (canonical_uid(name, &n) && n != uid)
		return phpc_xasprintf("is a number, which newuidmap and podman read as uid %" PRIu32
		                      ", so that uid would use the block too",
		                      n);
	struct claim c = owner_claim(us, name);
	if (c.n < 2)
		return NULL;
	uint32_t other = c.uid[0] == uid ? c.uid[1] : c.uid[0];
	return phpc_xasprintf("would serve uid %" PRIu32 " too", other);
}

/* One uid in range: the users byuid[from..to) share it. */
static void plan_uid(const struct fileidx *ux, const struct fileidx *gx, const struct users *us,
                     size_t from, size_t to, const struct phpc_subid_params *p,
                     struct phpc_subid_plan *out)
{
	const struct phpc_subid_user *first = &us->u[us->byuid[from]];
	uint32_t uid = first->uid;
	char num[16];
	snprintf(num, sizeof(num), "%" PRIu32, uid);
	/* Two uids that newuidmap takes for one (a name NSS lists for both:
	 * the second gets what the first has) can have nothing of their own. */
	uint32_t eff = effective_uid(us, uid);
	struct claim same = {0};
	claim_effective(us, eff, &same);
	bool alias = eff != uid || same.n > 1;
	/* from shadow-utils 4.20 on, a name that reads as a number is that uid */
	uint32_t as_num;
	bool numeric = reads_as_number(first->name, &as_num) && as_num != uid;
	/* An entry counts when podman finds it for this uid, under the name
	 * getpwuid gives or under the uid (not under a second name: podman
	 * does not look), and no other uid can use it: one that another uid
	 * can use too is reported (report_shared), not taken as this user's. */
	bool by_name =
	    !alias && !numeric && only_at(us, first->name, us->name_first[us->byuid[from]], uid);
	bool by_num = !alias && owner_only(us, num, uid);
	bool in_u = (by_num && has_numeric(ux, uid)) || (by_name && has_owner(ux, first->name));
	bool in_g = (by_num && has_numeric(gx, uid)) || (by_name && has_owner(gx, first->name));
	out->users++;
	out->had_uid += in_u;
	out->had_gid += in_g;
	_cleanup_free_ char *name = esc_str(first->name);
	if (alias) {
		uint32_t other = eff != uid ? eff : same.uid[0] == uid ? same.uid[1] : same.uid[0];
		/* the name both have: this uid's, or the other's when this uid is
		 * the one getpwnam gives */
		const struct phpc_subid_user *f = first_of_uid(us, eff == uid ? other : uid);
		_cleanup_free_ char *shared = esc_str(f ? f->name : "");
		phpc_strv_addf(
		    &out->left_out,
		    "user %s (uid %" PRIu32 ") gets no block: NSS lists the name %s for "
		    "uid %" PRIu32 " and for uid %" PRIu32 ", and newuidmap (and podman) "
		    "take both for uid %" PRIu32 ", so any block of one would be the "
		    "other's; rename one of them",
		    name, uid, shared, uid < other ? uid : other, uid < other ? other : uid, eff);
		return;
	}
	if (numeric) {
		phpc_strv_addf(&out->left_out,
		               "user %s (uid %" PRIu32 ") gets no block: its name reads as uid "
		               "%" PRIu32 ", and newuidmap from shadow-utils 4.20 on takes such a "
		               "user for that uid, so it would get uid %" PRIu32 "'s ids, not its "
		               "own; rename it",
		               name, uid, as_num, as_num);
		return;
	}
	struct claim named = {0};
	claim_numname(us, uid, &named);
	if (named.n) {
		const struct phpc_subid_user *f = first_of_uid(us, named.uid[0]);
		_cleanup_free_ char *other = esc_str(f ? f->name : "");
		phpc_strv_addf(&out->left_out,
		               "user %s (uid %" PRIu32 ") gets no block: the name of user %s (uid "
		               "%" PRIu32 ") reads as uid %" PRIu32 ", and newuidmap from "
		               "shadow-utils 4.20 on takes that user for it, so any block of %s's "
		               "would be theirs too; rename user %s",
		               name, uid, other, named.uid[0], uid, name, other);
		return;
	}
	if (in_u && in_g)
		return;
	/* The owner written: the name getpwuid gives, which podman looks for
	 * as newuidmap does. When it cannot be an owner, the uid in decimal,
	 * which both take as the caller's; never a second name. */
	bool by_uid;
	if (!name_problem(first->name) && by_name)
		by_uid = false;
	else if (by_num)
		by_uid = true;
	else {
		const char *problem = name_problem(first->name);
		_cleanup_free_ char *why =
		    problem ? phpc_xstrdup(problem) : name_shared(us, first->name, uid);
		struct claim c = owner_claim(us, num);
		uint32_t other = c.n > 1 && c.uid[0] == uid ? c.uid[1] : c.uid[0];
		phpc_strv_addf(&out->left_out,
		               "user %s (uid %" PRIu32 ") gets no block: its name %s, and the "
		               "uid cannot be the owner either: \"%s\" is also the name of the "
		               "user with uid %" PRIu32 "; rename one of them",
		               name, uid, why ? why : "cannot be an owner", num, other);
		return;
	}
	const struct phpc_subid_user *u = first;
	uint64_t start;
	if (!phpc_subid_block(p, uid, &start)) {
		uint64_t max = 0;
		_cleanup_free_ char *fit =
		    last_fitting_uid(p, &max)
		        ? phpc_xasprintf("blocks fit for uids up to %" PRIu64, max)
		        : phpc_xstrdup("no block fits");
		phpc_strv_addf(&out->left_out,
		               "user %s (uid %" PRIu32 ") gets no block: it would start at %" PRIu64
		               " and end past 4294967295, the last id (%s); %s",
		               name, uid, start, fit, overflow_fix(p));
		return;
	}
	uint64_t end = start + p->count;
	_cleanup_free_ char *why = NULL;
	if (!in_u)
		why = conflict(ux, false, us, start, end);
	if (!why && !in_g)
		why = conflict(gx, true, us, start, end);
	if (why) {
		/* usermod writes the name, which cannot be the owner of a by_uid user */
		_cleanup_free_ char *fix =
		    by_uid ? phpc_xasprintf("add \"%" PRIu32 ":FIRST:COUNT\" for a free range to "
		                            "both files by hand",
		                            uid)
		           : phpc_xasprintf("give %s a free range by hand (usermod --add-subuids "
		                            "and --add-subgids FIRST-LAST %s)",
		                            name, name);
		phpc_strv_addf(&out->left_out,
		               "user %s (uid %" PRIu32 ") gets no block: %" PRIu64 "-%" PRIu64
		               " %s; %s",
		               name, uid, start, last_id(start, p->count), why, fix);
		return;
	}
	if (!in_u)
		push_new(&out->uid_new, &out->n_uid_new, u, by_uid, start, p->count);
	if (!in_g)
		push_new(&out->gid_new, &out->n_gid_new, u, by_uid, start, p->count);
}

void phpc_subid_plan(const struct phpc_subid_file *subuid, const struct phpc_subid_file *subgid,
                     const struct phpc_subid_user *users, size_t n,
                     const struct phpc_subid_group *groups, size_t n_groups,
                     const struct phpc_subid_params *p, struct phpc_subid_plan *out)
{
	memset(out, 0, sizeof(*out));
	struct fileidx ux, gx;
	struct users us;
	index_file(subuid, &ux);
	index_file(subgid, &gx);
	users_index(users, n, groups, n_groups, &us);
	out->uid_new = phpc_xcalloc(us.n, sizeof(*out->uid_new));
	out->gid_new = phpc_xcalloc(us.n, sizeof(*out->gid_new));

	report_overlaps(&ux, &out->overlaps);
	report_overlaps(&gx, &out->overlaps);
	report_shared(&ux, &us, &out->overlaps);
	report_shared(&gx, &us, &out->overlaps);
	report_ids_inside(&ux, &gx, &us, &out->overlaps);

	size_t i = uid_lower_bound(&us, p->uid_min);
	while (i < us.n && us.u[us.byuid[i]].uid <= p->uid_max) {
		size_t j = i + 1;
		while (j < us.n && us.u[us.byuid[j]].uid == us.u[us.byuid[i]].uid)
			j++;
		plan_uid(&ux, &gx, &us, i, j, p, out);
		i = j;
	}
	index_clear(&ux);
	index_clear(&gx);
	users_clear(&us);
}

void phpc_subid_plan_clear(struct phpc_subid_plan *plan)
{
	free(plan->uid_new);
	free(plan->gid_new);
	phpc_strv_clear(&plan->left_out);
	phpc_strv_clear(&plan->overlaps);
	memset(plan, 0, sizeof(*plan));
}

/* ---- output ------------------------------------------------------------------------------- */

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		while (b->n + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 4096;
		b->p = phpc_xrealloc(b->p, b->cap);
	}
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = phpc_xvasprintf(fmt, ap);
	va_end(ap);
	buf_add(b, s, strlen(s));
}

static void add_lines(struct buf *b, const char *prefix, const struct phpc_subid_new *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].by_uid)
			buf_addf(b, "%s%" PRIu32 ":%" PRIu64 ":%" PRIu64 "\n", prefix, v[i].uid,
			         v[i].start, v[i].count);
		else
			buf_addf(b, "%s%s:%" PRIu64 ":%" PRIu64 "\n", prefix, v[i].name, v[i].start,
			         v[i].count);
	}
}

char *phpc_subid_render(const struct phpc_subid_file *f, const struct phpc_subid_new *v, size_t n,
                        size_t *len)
{
	struct buf b = {0};
	buf_add(&b, f->text, f->len);
	if (lacks_final_newline(f))
		buf_add(&b, "\n", 1);
	add_lines(&b, "", v, n);
	*len = b.n;
	return b.p;
}

/* A hunk's range as diff -U0 writes it: "L" for one line, "L,N" else (for
 * N = 0, L is the line after which the lines go). */
static char *hunk_range(size_t line, size_t n)
{
	return n == 1 ? phpc_xasprintf("%zu", line) : phpc_xasprintf("%zu,%zu", line, n);
}

char *phpc_subid_diff(const struct phpc_subid_file *f, const struct phpc_subid_new *v, size_t n,
                      size_t *len)
{
	struct buf b = {0};
	buf_add(&b, "", 0);
	if (!phpc_subid_changes(f, n)) {
		if (len)
			*len = 0;
		return b.p;
	}
	buf_addf(&b, "--- %s\n+++ %s\n", f->name, f->name);
	if (lacks_final_newline(f)) {
		/* the last line changes: it gains its '\n' */
		const char *last = f->text + f->len;
		while (last > f->text && last[-1] != '\n')
			last--;
		size_t ln = (size_t)(f->text + f->len - last);
		_cleanup_free_ char *new_range = hunk_range(f->lines, n + 1);
		buf_addf(&b, "@@ -%zu +%s @@\n-", f->lines, new_range);
		buf_add(&b, last, ln);
		static const char no_newline[] = "\n\\ No newline at end of file\n+";
		buf_add(&b, no_newline, sizeof(no_newline) - 1);
		buf_add(&b, last, ln);
		buf_add(&b, "\n", 1);
	} else {
		_cleanup_free_ char *new_range = hunk_range(f->lines + 1, n);
		buf_addf(&b, "@@ -%zu,0 +%s @@\n", f->lines, new_range);
	}
	add_lines(&b, "+", v, n);
	if (len)
		*len = b.n;
	return b.p;
}

/* ---- login.defs --------------------------------------------------------------------------- */

static void defs_uid(const char *name, size_t line, const char *key, const char *val, size_t n,
                     uint32_t *out, struct phpc_strv *warnings)
{
	uint64_t v;
	struct num_form form;
	if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
		val++;
		n -= 2;
	}
	if (parse_num(val, n, &v, &form) && v < UINT32_MAX) {
		*out = (uint32_t)v;
		return;
	}
	_cleanup_free_ char *shown = esc(val, n);
	phpc_strv_addf(warnings,
	               "%s line %zu: %s \"%s\" is not a uid; using %" PRIu32 " (give a number from "
	               "0 to 4294967294)",
	               name, line, key, shown, *out);
}

void phpc_subid_login_defs(const char *name, const char *text, uint32_t *uid_min, uint32_t *uid_max,
                           struct phpc_strv *warnings)
{
	size_t line = 0;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		const char *le = nl ? nl : p + strlen(p);
		line++;
		const char *k = p;
		while (k < le && (*k == ' ' || *k == '\t'))
			k++;
		const char *ke = k;
		while (ke < le && *ke != ' ' && *ke != '\t')
			ke++;
		const char *v = ke;
		while (v < le && (*v == ' ' || *v == '\t'))
			v++;
		const char *ve = le;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
			ve--;
		size_t kn = (size_t)(ke - k);
		if (kn == 7 && memcmp(k, "UID_MIN", 7) == 0)
			defs_uid(name, line, "UID_MIN", v, (size_t)(ve - v), uid_min, warnings);
		else if (kn == 7 && memcmp(k, "UID_MAX", 7) == 0)
			defs_uid(name, line, "UID_MAX", v, (size_t)(ve - v), uid_max, warnings);
		p = nl ? nl + 1 : le;
	}
}
