/* SPDX-License-Identifier: MIT */
/*
 * From what the user wrote (path + "symbol[+off]" or "0xfileoff", or an
 * address) to a runtime address, its containing function, and a proof that it
 * is an instruction boundary. Never trust an offset.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/resolve.h"
#include "sym/maps.h"
#include "sym/sym.h"
#include "util/log.h"

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

/* Map the file read-only and address its code segment by virtual address. */
static int resolve_image(struct sym_file *f, struct probe_target *t)
{
	uint64_t vaddr, offset, filesz;
	void *image;
	int fd;

	if (sym_exec_segment(f, t->file_offset, &vaddr, &offset, &filesz))
		return log_error(ENXIO, "offset 0x%lx is not in an executable segment",
				 t->file_offset);
	fd = open(sym_file_path(f), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error(errno, "%s: %s", sym_file_path(f), strerror(errno));
	image = mmap(NULL, sym_file_size(f), PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (image == MAP_FAILED)
		return log_error(errno, "%s: %s", sym_file_path(f), strerror(errno));
	t->image = image;
	t->image_size = sym_file_size(f);
	t->image_delta = (int64_t)offset - (int64_t)vaddr;
	t->addr = t->file_offset - offset + vaddr;
	t->map_start = vaddr;
	t->map_end = vaddr + filesz;
	t->map_ino = sym_file_ino(f);
	return 0;
}

void resolve_release(struct probe_target *t)
{
	if (t->image)
		munmap((void *)t->image, t->image_size);
	t->image = NULL;
}

/*
 * Bytes of a file mapped in this process, read as the file holds them: under
 * AddressSanitizer, its data is also this program's objects, whose redzones
 * a scan across them (jump tables) would trip on.
 */
__attribute__((no_sanitize_address)) static void read_mapped(void *buf, uint64_t addr, size_t len)
{
	const volatile uint8_t *p = (const volatile uint8_t *)addr;
	uint8_t *out = buf;

	for (size_t i = 0; i < len; i++)
		out[i] = p[i];
}

int target_read_data(const struct probe_target *t, uint64_t addr, void *buf, size_t len)
{
	uint64_t vaddr = addr - t->bias;

	for (unsigned i = 0; i < t->nloads; i++) {
		const struct sym_load *l = &t->loads[i];

		if (vaddr < l->vaddr || vaddr + len > l->vaddr + l->filesz)
			continue;
		if (t->image)
			memcpy(buf, t->image + (vaddr - l->vaddr + l->offset), len);
		else
			read_mapped(buf, addr, len);
		return 0;
	}
	return -EFAULT;
}

size_t resolve_padding_after(const struct probe_target *t, struct sym_file *f, uint64_t end)
{
	uint64_t limit = (end + 15) & ~(uint64_t)15, section_end;
	struct sym_func fn;

	if (limit == end || end < t->map_start || limit > t->map_end ||
	    !sym_func_at(f, end - t->bias, &fn))
		return 0;
	section_end = sym_code_section_end(f, end - 1 - t->bias);
	if (section_end && section_end + t->bias < limit) /* .text ends, .fini begins */
		limit = section_end + t->bias;
	return limit > end ? limit - end : 0;
}

void target_read(const struct probe_target *t, uint64_t addr, uint8_t *buf, size_t len)
{
	if (t->image)
		memcpy(buf, t->image + addr + t->image_delta, len);
	else
		registry_read_text(addr, buf, len);
}

/* A mapping lookup that failed other than by -ENXIO (not mapped). */
static int maps_unreadable(int err)
{
	return log_error(-err, "cannot read /proc/self/maps: %s%s", strerror(-err),
			 err == -ENOENT ? " (is /proc mounted?)" : "");
}

/* Fill the runtime side of t from its file offset. */
static int resolve_runtime(struct sym_file *f, struct probe_target *t, unsigned flags)
{
	struct maps_entry m;
	int err;

	if (flags & RESOLVE_FILE_ONLY)
		return resolve_image(f, t);
	err = maps_find_file_offset(sym_file_dev(f), sym_file_ino(f), t->file_offset, &m);
	if (err && err != -ENXIO)
		return maps_unreadable(err);
	if (err) {
		if (flags & RESOLVE_FILE_IMAGE)
			return resolve_image(f, t);
		return log_error(ENXIO, "'%s' is not mapped (executable) in this process",
				 sym_file_path(f));
	}
	t->addr = m.start + (t->file_offset - m.offset);
	t->map_start = m.start;
	t->map_end = m.end;
	t->map_ino = m.ino;
	return 0;
}

/* Bounds of the function containing vaddr, shifted to runtime addresses. */
static void resolve_func(struct sym_file *f, uint64_t vaddr, struct probe_target *t)
{
	struct sym_func fn;

	if (sym_func_at(f, vaddr, &fn))
		return;
	t->func_start = t->addr - (vaddr - fn.vaddr);
	t->func_size = fn.size;
	if (!t->symbol[0] && fn.name[0]) {
		snprintf(t->symbol, sizeof(t->symbol), "%s", fn.name);
		t->symbol_offset = vaddr - fn.vaddr;
	}
}

/* A return probe at a function's entry (or none known): can it follow the calls? */
static void resolve_ret_check(struct sym_file *f, unsigned flags, struct probe_target *t)
{
	if ((flags & RESOLVE_RETURN) && (t->addr == t->func_start || !t->func_start))
		t->ret_refusal = sym_ret_check(f, t->addr - t->bias, t->ret_why, sizeof(t->ret_why));
}

static int resolve_offset(struct sym_file *f, const char *loc, unsigned flags,
			  struct probe_target *t)
{
	uint64_t vaddr;
	int err;

	if (parse_u64(loc, &t->file_offset))
		return log_error(EINVAL, "bad file offset '%s'", loc);
	if (t->file_offset >= sym_file_size(f))
		return log_error(ERANGE, "offset 0x%lx is beyond the end of the file (size 0x%lx)",
				 t->file_offset, sym_file_size(f));
	if (sym_off_to_vaddr(f, t->file_offset, &vaddr))
		return log_error(ENXIO, "offset 0x%lx is not in an executable segment",
				 t->file_offset);
	err = resolve_runtime(f, t, flags);
	if (err)
		return err;
	t->bias = t->addr - vaddr;
	t->nloads = sym_loads(f, t->loads, 8);
	resolve_func(f, vaddr, t);
	resolve_ret_check(f, flags, t);
	return 0;
}

/*
 * An IFUNC symbol's value is its resolver. Probe what the dynamic linker
 * chose for this process instead, as a call through the symbol would run.
 */
static int resolve_ifunc(struct sym_file *f, const struct sym_func *fn, const char *name,
			 uint64_t off, unsigned flags, struct probe_target *t)
{
	void *h = dlopen(sym_file_path(f), RTLD_LAZY | RTLD_NOLOAD);
	const char *at = strchr(name, '@');
	void *impl = NULL;
	Dl_info where;
	int err;

	/* NAME@VERSION / NAME@@VERSION: that version's choice (fn->name is NAME). */
	if (h)
		impl = at ? dlvsym(h, fn->name, at + 1 + (at[1] == '@')) : dlsym(h, fn->name);
	if (h)
		dlclose(h);
	if (!impl)
		return log_error(ENXIO, "cannot resolve IFUNC '%s' in this process", name);
	/* time, gettimeofday: the kernel's code, mapped in no file (no uprobe can go there) */
	if (dladdr(impl, &where) && where.dli_fname && !strncmp(where.dli_fname, "linux-vdso", 10))
		return log_error(ENOTSUP, "IFUNC '%s' resolves to %s in the vDSO, which is no "
				 "file: its calls run there", name,
				 where.dli_sname ? where.dli_sname : "code");
	err = resolve_address((uint64_t)impl + off, flags | RESOLVE_KEEP_SYMBOL, t);
	if (err)
		return err;
	if (t->func_size && off >= t->func_size)
		return log_error(ERANGE, "offset 0x%lx is beyond the end of '%s' (size 0x%lx)",
				 off, name, t->func_size);
	return 0;
}

static int resolve_symbol(struct sym_file *f, const char *loc, unsigned flags,
			  struct probe_target *t)
{
	char name[512]; /* C++ names are long; t->symbol keeps what fits */
	const char *plus = strchr(loc, '+');
	size_t nlen = plus ? (size_t)(plus - loc) : strlen(loc);
	uint64_t off = 0, vaddr;
	struct sym_func fn;
	int err;

	if (!nlen || nlen >= sizeof(name))
		return log_error(EINVAL, "bad symbol in '%s'", loc);
	memcpy(name, loc, nlen);
	name[nlen] = '\0';
	if (plus && parse_u64(plus + 1, &off))
		return log_error(EINVAL, "bad offset '%s' after symbol '%s'", plus + 1, name);
	err = sym_find(f, name, &fn);
	if (err)
		return err;
	snprintf(t->symbol, sizeof(t->symbol), "%s", name);
	t->symbol_offset = off;
	if (fn.ifunc)
		return resolve_ifunc(f, &fn, name, off, flags, t);
	if (fn.size && off >= fn.size)
		return log_error(ERANGE, "offset 0x%lx is beyond the end of '%s' (size 0x%lx)",
				 off, name, fn.size);
	vaddr = fn.vaddr + off;
	if (sym_vaddr_to_off(f, vaddr, &t->file_offset))
		return log_error(ENXIO, "'%s' (0x%lx) is not in an executable segment", name, vaddr);
	err = resolve_runtime(f, t, flags);
	if (err)
		return err;
	t->bias = t->addr - vaddr;
	t->nloads = sym_loads(f, t->loads, 8);
	if (fn.size) {
		t->func_start = t->addr - off;
		t->func_size = fn.size;
	} else {
		resolve_func(f, vaddr, t);
	}
	resolve_ret_check(f, flags, t);
	return 0;
}

int resolve_location_in(struct sym_file *f, const char *loc, unsigned flags,
			struct probe_target *t)
{
	int err;

	memset(t, 0, sizeof(*t));
	if (!loc || !*loc)
		return log_error(EINVAL, "empty location");
	snprintf(t->path, sizeof(t->path), "%s", sym_file_path(f));
	t->go = sym_file_is_go(f);
	if (loc[0] >= '0' && loc[0] <= '9')
		err = resolve_offset(f, loc, flags, t);
	else
		err = resolve_symbol(f, loc, flags, t);
	if (!err)
		err = resolve_check_boundary(t, flags);
	if (err)
		resolve_release(t);
	return err;
}

int resolve_location(const char *path, const char *loc, unsigned flags, struct probe_target *t)
{
	char real[PATH_MAX];
	struct sym_file *f;
	struct stat st;
	int err;

	memset(t, 0, sizeof(*t));
	if (!loc || !*loc)
		return log_error(EINVAL, "empty location");
	if (!path)
		path = "/proc/self/exe";
	f = sym_batch_find(path, NULL); /* asked before in this batch: stat'ed then */
	if (!f && stat(path, &st))
		return log_error(errno, "'%s': %s", path, strerror(errno));
	if (!f)
		f = sym_batch_find(path, &st);
	if (!f) {
		if (!realpath(path, real))
			snprintf(real, sizeof(real), "%s", path);
		f = sym_file_open(real);
		if (!f)
			return -errno;
		sym_batch_asked(path, f);
	}
	err = resolve_location_in(f, loc, flags, t);
	sym_file_close(f);
	return err;
}

int resolve_address(uint64_t addr, unsigned flags, struct probe_target *t)
{
	struct maps_entry m;
	struct sym_file *f;
	uint64_t vaddr;
	int err;

	if (!(flags & RESOLVE_KEEP_SYMBOL))
		memset(t, 0, sizeof(*t));
	err = maps_find_addr(addr, &m);
	if (err && err != -ENXIO)
		return maps_unreadable(err);
	if (err)
		return log_error(ENXIO, "address 0x%lx is not mapped", addr);
	if (m.perms[2] != 'x')
		return log_error(ENXIO, "address 0x%lx is not executable (%s %s)", addr, m.perms,
				 m.path[0] ? m.path : "anonymous");
	t->addr = addr;
	t->map_start = m.start;
	t->map_end = m.end;
	t->map_ino = m.ino;
	if (!t->path[0])
		snprintf(t->path, sizeof(t->path), "%s", m.path);
	if (!m.ino || m.path[0] != '/')
		return 0; /* anonymous code: no file, no symbols */
	t->file_offset = addr - m.start + m.offset;
	f = sym_file_open(m.path);
	if (!f) {
		log_clear_error();
		return 0;
	}
	t->go = sym_file_is_go(f);
	if (!sym_off_to_vaddr(f, t->file_offset, &vaddr)) {
		t->bias = addr - vaddr;
		t->nloads = sym_loads(f, t->loads, 8);
		resolve_func(f, vaddr, t);
		resolve_ret_check(f, flags, t);
	}
	sym_file_close(f);
	return 0;
}

int resolve_check_boundary(struct probe_target *t, unsigned flags)
{
	uint64_t off = t->addr - t->func_start, pos = 0;
	uint8_t buf[ARCH_INSN_MAX];
	unsigned len = 0;

	if (!t->func_start) {
		if (flags & UPROBE_F_NO_BOUNDARY_CHECK)
			return 0;
		return log_error(EILSEQ,
				 "cannot prove 0x%lx is an instruction boundary: no symbol or "
				 ".eh_frame FDE covers it (UPROBE_F_NO_BOUNDARY_CHECK overrides)",
				 t->addr);
	}
	/* Decode from the function start; the text may hold our int3s: see the originals. */
	while (pos < off) {
		size_t avail = t->map_end - (t->func_start + pos);

		if (avail > sizeof(buf))
			avail = sizeof(buf);
		target_read(t, t->func_start + pos, buf, avail);
		len = arch_insn_length(buf, avail, t->func_start + pos);
		if (!len)
			return log_error(EILSEQ, "cannot decode the function at +0x%lx (byte %02x)",
					 pos, buf[0]);
		if (pos + len > off)
			break;
		pos += len;
	}
	if (pos != off) {
		char text[96];

		arch_insn_format(buf, len, t->func_start + pos, text, sizeof(text));
		return log_error(EILSEQ,
				 "offset +0x%lx is inside the instruction at +0x%lx ('%s', %u bytes);"
				 " nearest boundaries +0x%lx and +0x%lx",
				 off, pos, text, len, pos, pos + len);
	}
	return 0;
}
