/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: who may be traced. Every descendant of the command inherits
 * the control socket, so a HELLO proves nothing by itself: the kernel's word
 * is taken instead (SCM_CREDENTIALS on the control socket, SO_PEERCRED on the
 * private one), each image is served once, and the tables are bounded. Every
 * refusal is counted, said once on stderr and summed up in the summary. Also
 * what the command itself is: a static or setuid program never says HELLO,
 * and the summary says why (docs/security.md).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"
#include "trace.h"

static const char *const refusal_text[REF_COUNT] = {
	[REF_CREDS] = "from a process of other credentials",
	[REF_PID] = "with a pid not the sender's",
	[REF_SOCKET] = "without a private socket of the sender's",
	[REF_AGAIN] = "a second HELLO of one image",
	[REF_MESSAGE] = "malformed",
	[REF_READY] = "a malformed READY",
	[REF_PROTOCOL] = "a message out of turn",
	[REF_RINGS] = "rings refused",
	[REF_GONE] = "gone before it was served",
};

char *tracer_printable(char *s)
{
	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return s;
}

const char *tracer_comm(pid_t pid, char *buf, size_t len)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
	}
	comm[strcspn(comm, "\n")] = 0;
	snprintf(buf, len, comm[0] ? " (%s)" : "", tracer_printable(comm));
	return buf;
}

void tracer_refuse(struct tracer *t, enum refusal r, pid_t pid, const char *fmt, ...)
{
	char detail[256], comm[48];
	va_list ap;

	if (t->refused[r]++)
		return;
	t->refused_pid[r] = pid;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	cli_error(0, "PID %d%s: HELLO refused (%s): %s; not served (refusals are counted in the "
		  "summary)", pid, tracer_comm(pid, comm, sizeof(comm)),
		  r == REF_TOO_MANY || r == REF_STOPPING ? "not traced" : refusal_text[r], detail);
}

/* ---- one agent per image ---------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
	return h;
}

/* /proc/PID/stat's start time (field 22), or 0 if the process is gone. */
static uint64_t start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[got > 0 ? got : 0] = 0;
	p = strrchr(buf, ')'); /* the name may hold anything, ')' too */
	if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			"%*d %*d %*d %llu", &t) != 1)
		t = 0;
	return t;
}

/*
 * An image's identity: its pid, its start time (should the pid be reused)
 * and its auxiliary vector, which the kernel keeps from the exec and the
 * process cannot change: the addresses of its stack, vdso, loader and
 * program, random at each exec (ASLR). A process that hides its auxv (not
 * dumpable) is known by pid and start time. 0 if it is gone.
 */
static uint64_t image_identity(pid_t pid, bool secure)
{
	uint64_t start = start_time(pid), h = 0xcbf29ce484222325ull;
	char path[64], auxv[1024];
	ssize_t got = 0;
	int fd;

	if (!start)
		return 0;
	h = fnv(fnv(fnv(h, &pid, sizeof(pid)), &start, sizeof(start)), &secure, sizeof(secure));
	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = secure ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		got = read(fd, auxv, sizeof(auxv));
		close(fd);
	}
	if (got > 0)
		h = fnv(h, auxv, (size_t)got);
	return h ? h : 1;
}

struct seen {
	uint64_t *slot; /* open addressing; 0 is free */
	size_t room, used;
};

static int seen_insert(struct seen *s, uint64_t id)
{
	size_t i = id & (s->room - 1);

	while (s->slot[i] && s->slot[i] != id)
		i = (i + 1) & (s->room - 1);
	if (s->slot[i])
		return 1;
	s->slot[i] = id;
	s->used++;
	return 0;
}

/* 1 if the image id was served before, 0 if it is new (now noted), -1 if the table is full. */
static int seen_add(struct tracer *t, uint64_t id)
{
	struct seen *s = t->seen, grown;

	if (!s && !(s = t->seen = calloc(1, sizeof(*s))))
		return -1;
	if (2 * (s->used + 1) > s->room) {
		if (s->used >= MAX_IMAGES)
			return -1;
		grown.room = s->room ? 2 * s->room : 1024;
		grown.used = 0;
		grown.slot = calloc(grown.room, sizeof(*grown.slot));
		if (!grown.slot)
			return -1;
		for (size_t i = 0; i < s->room; i++)
			if (s->slot[i])
				seen_insert(&grown, s->slot[i]);
		free(s->slot);
		*s = grown;
	}
	return seen_insert(s, id);
}

/* ---- HELLO -------------------------------------------------------------------------- */

/* fd is an AF_UNIX SOCK_SEQPACKET socket that process pid made (SO_PEERCRED of a pair end). */
static bool socket_made_by(int fd, pid_t pid)
{
	struct ucred peer;
	socklen_t len = sizeof(int);
	int type = 0, domain = 0;

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_SEQPACKET ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) || domain != AF_UNIX)
		return false;
	len = sizeof(peer);
	return !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) && peer.pid == pid;
}

/* HELLO_SECURE: an image that will not be traced; noted once per image. */
static void note_untraced(struct tracer *t, const struct ucred *cred, bool creds)
{
	enum untraced u = creds ? UNTRACED_CREDS : UNTRACED_SECURE;
	char comm[48];

	if (seen_add(t, image_identity(cred->pid, true)) > 0) {
		tracer_refuse(t, REF_AGAIN, cred->pid, "it said it is not traced before");
		return;
	}
	if (!t->untraced[u]++)
		t->untraced_pid[u] = cred->pid;
	if (cred->pid == t->child && !creds) {
		t->cmd_kind = CMD_SECURE;
		if (!t->cmd_why[0])
			snprintf(t->cmd_why, sizeof(t->cmd_why), "runs in secure-execution mode");
	}
	if (!t->quiet && t->untraced[u] == 1)
		cli_error(0, "PID %d%s %s: not traced", cred->pid,
			  tracer_comm(cred->pid, comm, sizeof(comm)),
			  creds ? "runs as another user or group" :
				  "is a setuid, setgid or file-capability image");
}

static bool creds_are_ours(const struct ucred *cred)
{
	return cred->uid == getuid() && cred->gid == getgid();
}

int tracer_gate_hello(struct tracer *t, const struct uprobe_agent_hdr *h, const struct ucred *cred,
		      int fd, int n_fds)
{
	bool secure = h->type == UPROBE_AGENT_HELLO_SECURE;
	uint64_t id;
	int seen;

	if (secure && n_fds == 0 && h->n == (uint32_t)cred->pid) {
		note_untraced(t, cred, !creds_are_ours(cred));
		return 0;
	}
	if (!creds_are_ours(cred))
		tracer_refuse(t, REF_CREDS, cred->pid,
			      "it runs as uid %u gid %u, the traced processes as uid %u gid %u",
			      cred->uid, cred->gid, getuid(), getgid());
	else if (h->n != (uint32_t)cred->pid)
		tracer_refuse(t, REF_PID, cred->pid, "its HELLO says PID %u", h->n);
	else if (secure || n_fds != 1 || !socket_made_by(fd, cred->pid))
		tracer_refuse(t, REF_SOCKET, cred->pid, "%s",
			      n_fds != 1 ? "not exactly one descriptor"
			      : secure	 ? "a descriptor with HELLO_SECURE"
					 : "not a SOCK_SEQPACKET socket it made");
	else if (!(id = image_identity(cred->pid, false)))
		tracer_refuse(t, REF_GONE, cred->pid, "its /proc entry is gone");
	else if ((seen = seen_add(t, id)) > 0)
		tracer_refuse(t, REF_AGAIN, cred->pid, "that image was served already");
	else if (seen < 0)
		tracer_refuse(t, REF_TOO_MANY, cred->pid, "more than %u images in one run",
			      MAX_IMAGES);
	else if (t->live >= MAX_LIVE_AGENTS)
		tracer_refuse(t, REF_TOO_MANY, cred->pid, "more than %d images at once",
			      MAX_LIVE_AGENTS);
	else if (stop_requested)
		t->refused[REF_STOPPING]++;
	else
		return 1;
	if (fd >= 0)
		close(fd);
	return 0;
}

/* ---- the command -------------------------------------------------------------------- */

/*
 * Will exec put path in secure-execution mode (AT_SECURE), where the loader
 * ignores LD_PRELOAD? Set-id bits count unless the mount is nosuid or this
 * process has no_new_privs; file capabilities for anyone but root.
 */
static bool secure_exec(const char *path, char *why, size_t len)
{
	struct statvfs vfs;
	struct stat st;
	struct passwd *pw;
	struct group *gr;

	if (stat(path, &st) || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ||
	    (!statvfs(path, &vfs) && (vfs.f_flag & ST_NOSUID)))
		return false;
	if ((st.st_mode & S_ISUID) && st.st_uid != getuid()) {
		pw = getpwuid(st.st_uid);
		snprintf(why, len, "is setuid %s", pw ? pw->pw_name : "(another user)");
	} else if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
		   st.st_gid != getgid()) {
		gr = getgrgid(st.st_gid);
		snprintf(why, len, "is setgid %s", gr ? gr->gr_name : "(another group)");
	} else if (getuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0) {
		snprintf(why, len, "has file capabilities");
	} else {
		return false;
	}
	return true;
}

/* 1 if the ELF file at path has a program interpreter (PT_INTERP), 0 if not, -1: not ELF. */
static int has_interp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), ret = -1;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (fd < 0)
		return -1;
	if (pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(ph)) {
		ret = 0;
		for (unsigned i = 0; i < eh.e_phnum && !ret; i++)
			if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) ==
				    sizeof(ph) &&
			    ph.p_type == PT_INTERP)
				ret = 1;
	}
	close(fd);
	return ret;
}

/* A "#!" script's interpreter, in out; 0, or -1 when path is no script. */
static int script_interp(const char *path, char *out, size_t len)
{
	char line[256];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fgets(line, sizeof(line), f) ? strlen(line) : 0;
	fclose(f);
	if (n < 3 || strncmp(line, "#!", 2))
		return -1;
	n = strspn(line + 2, " \t");
	snprintf(out, len, "%.*s", (int)strcspn(line + 2 + n, " \t\n"), line + 2 + n);
	return 0;
}

void tracer_check_command(struct tracer *t, const char *cmd)
{
	char path[PATH_MAX], interp[PATH_MAX];

	if (strchr(cmd, '/'))
		snprintf(path, sizeof(path), "%s", cmd);
	else if (cli_find_on_path(cmd, path, sizeof(path)))
		return; /* execvp() will say */
	if (secure_exec(path, t->cmd_why, sizeof(t->cmd_why))) {
		t->cmd_kind = CMD_SECURE;
		if (!t->quiet)
			cli_error(0, "%s %s: it runs untraced (the loader ignores LD_PRELOAD in "
				  "setuid programs, and so does the agent)", cmd, t->cmd_why);
		return;
	}
	if (script_interp(path, interp, sizeof(interp))) /* set-id bits of scripts do nothing */
		interp[0] = 0;
	if (!has_interp(interp[0] ? interp : path)) {
		t->cmd_kind = CMD_STATIC;
		snprintf(t->cmd_why, sizeof(t->cmd_why),
			 "%s%s%sis statically linked (no PT_INTERP): "
			 "nothing can be preloaded into it",
			 interp[0] ? "runs " : "", interp, interp[0] ? ", which " : "");
	}
}

/* ---- the summary -------------------------------------------------------------------- */

const char *tracer_unattached_reason(const struct tracer *t, int i, char *buf, size_t len)
{
	const char *cmd = t->exe ? t->exe : "the command", *why = t->why[i] ? t->why[i] : "";
	const char *elsewhere = why[0] ? "; elsewhere: " : "";
	const char *started = t->images ? "; no image it started mapped its file" : "";
	unsigned setuid = t->untraced[UNTRACED_SECURE];

	if (t->cmd_kind == CMD_SECURE && !t->child_traced)
		snprintf(buf, len, "%s %s: setuid image, not traced%s%s", cmd, t->cmd_why,
			 elsewhere, why);
	else if (t->cmd_kind == CMD_STATIC && !t->child_traced)
		snprintf(buf, len, "%s %s%s%s", cmd, t->cmd_why, why[0] ? elsewhere : started, why);
	else if (setuid)
		snprintf(buf, len, "%u setuid image(s) not traced%s%s", setuid, elsewhere,
			 why[0] ? why : "; no other image mapped its file");
	else
		snprintf(buf, len, "%s", why[0] ? why : "no image mapped its file");
	return buf;
}

void tracer_gate_summary(const struct tracer *t, FILE *out)
{
	unsigned total = 0;
	const char *sep = "";

	for (int r = 0; r < REF_TOO_MANY; r++)
		total += t->refused[r];
	if (total)
		fprintf(out, "  %u HELLO%s refused:", total, total == 1 ? "" : "s");
	for (int r = 0; r < REF_TOO_MANY; r++) {
		if (!t->refused[r])
			continue;
		fprintf(out, "%s %u %s (first: PID %d)", sep, t->refused[r], refusal_text[r],
			t->refused_pid[r]);
		sep = ",";
	}
	if (total)
		fputc('\n', out);
	if (t->refused[REF_TOO_MANY])
		fprintf(out, "  %u image(s) not traced: more than %d at once or %u in all (first: "
			"PID %d)\n", t->refused[REF_TOO_MANY], MAX_LIVE_AGENTS, MAX_IMAGES,
			t->refused_pid[REF_TOO_MANY]);
	if (t->refused[REF_STOPPING])
		fprintf(out, "  %u image(s) not traced: they started after tracing stopped\n",
			t->refused[REF_STOPPING]);
	if (t->untraced[UNTRACED_SECURE])
		fprintf(out, "  %u setuid image(s) not traced (first: PID %d)\n",
			t->untraced[UNTRACED_SECURE], t->untraced_pid[UNTRACED_SECURE]);
	if (t->untraced[UNTRACED_CREDS])
		fprintf(out, "  %u image(s) of other credentials not traced (first: PID %d)\n",
			t->untraced[UNTRACED_CREDS], t->untraced_pid[UNTRACED_CREDS]);
}
