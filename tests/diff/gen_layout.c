/* SPDX-License-Identifier: MIT */
/*
 * Two-pass encoding of a sequence into the plain or the snapshot variant (see
 * gen.h): lengths first (every relative operand has a fixed width), then the
 * final displacements once every instruction has its address.
 */
#include <string.h>
#include "gen_int.h"

/* ---- encoding ------------------------------------------------------------------- */

static int encode_insn(const struct ginsn *in, int64_t rel, uint8_t *out)
{
	ZydisEncoderRequest r;

	if (in->kind == GK_RAW) {
		memcpy(out, in->raw, in->raw_len);
		return in->raw_len;
	}
	r = in->req;
	if (in->kind == GK_BRANCH) {
		if (in->short_br && (rel < -128 || rel > 127))
			return -1;
		r.operands[in->rel_op].imm.s = rel;
	} else if (in->kind == GK_RIPREL) {
		r.operands[in->rel_op].mem.displacement = rel;
	}
	return encode_req(&r, out);
}

static int layout(const struct gseq *s, int snap, struct gvariant *v)
{
	int pos = MAIN_OFF, extra = snap ? SNAP_SITE_LEN : 0;
	uint8_t buf[16];

	for (int i = 0; i < s->n; i++) {
		const struct ginsn *in = &s->insn[i];
		int len = encode_insn(in, 0, buf);

		if (len < 0)
			return -1;
		v->len[i] = (uint8_t)len;
		if (in->region == REG_EXIT)
			pos = EXIT_OFF;
		else if (in->region == REG_SUB && s->insn[i - 1].region != REG_SUB)
			pos = SUB_OFF;
		v->entry[i] = (uint16_t)pos;
		v->off[i] = (uint16_t)(pos + extra);
		pos += extra + len;
		if ((in->region == REG_MAIN && pos > EXIT_OFF) ||
		    (in->region == REG_EXIT && pos > SUB_OFF) || pos > DATA_OFF)
			return -1;
	}
	return 0;
}

/* lea rsp, [rsp-128]; call snap; lea rsp, [rsp+128] */
static void snap_site(uint8_t *p, int at)
{
	static const uint8_t down[5] = {0x48, 0x8d, 0x64, 0x24, 0x80};
	static const uint8_t up[8] = {0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00};
	int32_t d = SNAP_OFF - (at + 10);

	memcpy(p, down, 5);
	p[5] = 0xe8;
	memcpy(p + 6, &d, 4);
	memcpy(p + 10, up, 8);
}

int gen_encode(const struct gseq *s, int snap, struct gvariant *v)
{
	memset(v->code, 0xf4, sizeof(v->code)); /* hlt: faults if ever reached */
	v->code[ENTRY_OFF] = 0x9d;		/* popfq */
	if (layout(s, snap, v))
		return -1;
	for (int i = 0; i < s->n; i++) {
		const struct ginsn *in = &s->insn[i];
		int64_t next = v->off[i] + v->len[i], rel = 0;
		uint8_t *p = &v->code[v->off[i]];

		if (in->kind == GK_BRANCH)
			rel = (int64_t)v->entry[in->target] - next;
		else if (in->kind == GK_RIPREL)
			rel = (int64_t)in->target - next;
		if (encode_insn(in, rel, p) != v->len[i])
			return -1;
		if (snap)
			snap_site(&v->code[v->entry[i]], v->entry[i]);
	}
	return 0;
}
