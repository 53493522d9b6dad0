/* SPDX-License-Identifier: MIT */
/*
 * The record file of `uprobe trace -f raw -o FILE` (record.c writes it) and
 * `uprobe report FILE` (report.c reads it), as perf record / perf script do:
 * events are written as they come out of the rings, formatted later.
 * Little-endian, every piece 8-byte aligned:
 *
 *   0   struct urec_header   magic "UPRBREC1", version, n_probes, hdr_len, flags,
 *                            crc (of the header and the probe texts)
 *   40  n_probes times:      u32 length, the probe's canonical text (what
 *                            trace_spec_format() gives; it parses back to the
 *                            same spec, hence the same record layout), padded
 *   hdr_len  blocks:         struct urec_block (len, crc32c of the bytes that
 *                            follow), then frames, len bytes in all
 *
 *   frame   struct urec_frame (len, kind), len bytes in all, a multiple of 8:
 *     URec_EVENT  struct urec_event: the struct trace_record the consumer gave
 *                 (times already CLOCK_MONOTONIC ns: no clock data is needed),
 *                 the thread's name, then data_len payload bytes, padded
 *     URec_END    struct urec_end then n_probes struct urec_probe: the
 *                 counts of the run (lost, skipped, mode); the last frame
 *
 * The file is not trusted by the reader: every length is checked against
 * what is left, each block against its checksum, and an error names the byte
 * offset where the file stopped making sense.
 */
#ifndef UPROBE_RECORD_H
#define UPROBE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define UREC_MAGIC "UPRBREC1"
#define UREC_VERSION 1u
#define UREC_BLOCK_BYTES (1u << 20)  /* what the writer gathers before it writes a block */
#define UREC_MAX_BLOCK (64u << 20)    /* the reader refuses a longer block */
#define UREC_MAX_PROBE_TEXT (1u << 20) /* one probe's text */

struct urec_header {
	char magic[8];
	uint32_t version;
	uint32_t n_probes;
	uint64_t hdr_len;  /* this header and the probe texts, a multiple of 8 */
	uint32_t flags;	   /* enum urec_flags */
	uint32_t crc;	   /* crc32c of this header (crc 0) then of the probe texts */
	uint64_t reserved; /* 0 */
};

enum urec_flags { UREC_F_BLOCKING = 1u << 0 };

struct urec_block {
	uint32_t len; /* bytes of frames that follow */
	uint32_t crc; /* their crc32c */
};

enum urec_kind { UREC_EVENT = 1, UREC_END = 2 };

struct urec_frame {
	uint32_t len; /* the frame's bytes, this included */
	uint16_t kind;
	uint16_t pad;
};

struct urec_event {
	struct urec_frame f;
	uint32_t event_id, flags;
	uint32_t pid, tid, cpu, data_len;
	uint64_t ts_ns, entry_ts_ns, ip, func;
	char comm[16];
};

struct urec_end {
	struct urec_frame f;
	uint32_t n_probes;
	uint32_t flags; /* UREC_END_LOST_UNKNOWN */
	uint64_t lost, unread, filtered, malformed;
	uint32_t images, filter_on;
};

#define UREC_END_LOST_UNKNOWN 1u

struct urec_probe {
	uint64_t events, lost, skipped;
	uint32_t attached, pad;
	char mode[16];
};

_Static_assert(sizeof(struct urec_header) == 40, "record file header");
_Static_assert(sizeof(struct urec_event) == 80, "record file event");
_Static_assert(sizeof(struct urec_end) == 56, "record file end");
_Static_assert(sizeof(struct urec_probe) == 48, "record file probe counts");

/* CRC-32C (Castagnoli), continued from crc (0 to start). */
uint32_t urec_crc32c(uint32_t crc, const void *buf, size_t len);

/* uprobe report (report.c). */
int cmd_report(int argc, char **argv);

#endif
