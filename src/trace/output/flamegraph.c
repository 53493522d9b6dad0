/* SPDX-License-Identifier: MIT */
/*
 * Flame graphs (uprobes_stack.h): the folded stacks drawn as one
 * self-contained SVG document, written here (the layout of flamegraph.pl's
 * output was studied, none of its code taken). The stacks become a tree,
 * children sorted by name; a frame is as wide as its count, the root ("all")
 * at the bottom, each caller under its callees:
 *
 *   <svg ... data-total=N data-xpad=10 data-width=W data-unit="hits">
 *     <style/> <defs: background/> <script: init, zoom, search/>
 *     title, "Reset Zoom", "Search", "Matched:" and the details line
 *     <g id="frames">
 *       <g class="f" data-s=START data-n=COUNT data-d=DEPTH>
 *         <title>NAME (COUNT hits, P%)</title>      the tooltip
 *         <rect x y width height fill/> <text>NAME, cut to fit</text>
 *       </g> ...
 *
 * x = xpad + START * scale and width = COUNT * scale, scale = (W - 2 xpad) /
 * N, so widths add up to counts. A frame narrower than 0.1 px is left out
 * (as flamegraph.pl does). The script needs no network and no other file:
 * a click zooms on a frame (its callers stay, full width and faded), "Reset
 * Zoom" undoes it, "Search" colours the frames whose name matches a regular
 * expression and tells their share; #search=REGEX and #zoom=N (the Nth frame
 * in document order) in the URL do the same at load. The root element
 * carries data-matched ("FRAMES:PERCENT") and data-zoomed (the frame's name)
 * afterwards, for a headless browser to read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "trace/output/folded.h"

#define FG_XPAD 10
#define FG_FRAME_H 16
#define FG_TOP 60
#define FG_BOTTOM 36
#define FG_FONT 12
#define FG_FONT_W 0.59
#define FG_MIN_PX 0.1

struct fg_node {
	const char *name;
	size_t len;
	uint64_t n;
	struct fg_node *kids, *last, *next;
};

struct fg {
	FILE *out;
	double scale;
	uint64_t total;
	unsigned int depth, height;
	const char *unit;
	int err;
};

static struct fg_node *child(struct fg_node *p, const char *name, size_t len)
{
	struct fg_node *c;

	if (p->last && p->last->len == len && !memcmp(p->last->name, name, len))
		return p->last;
	for (c = p->kids; c; c = c->next)
		if (c->len == len && !memcmp(c->name, name, len))
			return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->name = name;
	c->len = len;
	if (p->last)
		p->last->next = c;
	else
		p->kids = c;
	p->last = c;
	return c;
}

/* One folded stack added along the tree from root. 0 or -ENOMEM. Sets *depth to its length. */
static int tree_add(struct fg_node *root, const char *key, uint64_t count, unsigned int *depth)
{
	struct fg_node *p = root;
	unsigned int d = 0;

	root->n += count;
	while (*key) {
		size_t len = strcspn(key, ";");

		if (!(p = child(p, key, len)))
			return -ENOMEM;
		p->n += count;
		d++;
		key += len + (key[len] == ';');
	}
	if (d > *depth)
		*depth = d;
	return 0;
}

static void tree_free(struct fg_node *p)
{
	while (p) {
		struct fg_node *next = p->next;

		tree_free(p->kids);
		free(p);
		p = next;
	}
}

/* XML text: & < > " ' escaped; other bytes as they are (names are UTF-8 or bytes). */
static void put_xml(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&apos;", out); break;
		default:
			if ((unsigned char)s[i] >= 0x20 || s[i] == '\t')
				fputc(s[i], out);
		}
	}
}

/* A warm colour from the name, the same for the same name in every graph. */
static void colour(const char *name, size_t len, unsigned int rgb[3])
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	rgb[0] = 205 + (h & 0xff) * 50 / 255;
	rgb[1] = ((h >> 8) & 0xff) * 230 / 255;
	rgb[2] = ((h >> 16) & 0xff) * 55 / 255;
}

static void frame(struct fg *g, const struct fg_node *p, uint64_t start, unsigned int depth)
{
	double x = FG_XPAD + (double)start * g->scale, w = (double)p->n * g->scale;
	double y = g->height - FG_BOTTOM - (double)(depth + 1) * FG_FRAME_H;
	int fit = (int)((w - 6) / (FG_FONT * FG_FONT_W));
	unsigned int rgb[3];

	colour(p->name, p->len, rgb);
	fprintf(g->out, "<g class=\"f\" data-s=\"%" PRIu64 "\" data-n=\"%" PRIu64 "\" data-d=\"%u\">"
		"<title>", start, p->n, depth);
	put_xml(g->out, p->name, p->len);
	fprintf(g->out, " (%" PRIu64 " %s, %.2f%%)</title>", p->n, g->unit,
		100.0 * (double)p->n / (double)g->total);
	fprintf(g->out, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"rgb(%u,%u,%u)\" "
		"rx=\"2\" ry=\"2\"/><text x=\"%.2f\" y=\"%.1f\">", x, y, w, FG_FRAME_H - 1,
		rgb[0], rgb[1], rgb[2], x + 3, y + 11.5);
	if (fit >= 3 && (size_t)fit >= p->len)
		put_xml(g->out, p->name, p->len);
	else if (fit >= 3) {
		put_xml(g->out, p->name, (size_t)fit - 2);
		fputs("..", g->out);
	}
	fputs("</text></g>\n", g->out);
}

/* p and everything above it, from start (in counts). */
static void frames(struct fg *g, const struct fg_node *p, uint64_t start, unsigned int depth)
{
	if ((double)p->n * g->scale < FG_MIN_PX)
		return;
	frame(g, p, start, depth);
	for (const struct fg_node *c = p->kids; c; c = c->next) {
		frames(g, c, start, depth + 1);
		start += c->n;
	}
}

static const char fg_script[] =
	"\"use strict\";\n"
	"var svg, frames, details, unzoombtn, matchedtxt, total, xpad, width;\n"
	"var fontsize = 12, fontwidth = 0.59;\n"
	"function num(g, a) { return +g.getAttribute(a); }\n"
	"function init(evt) {\n"
	"  svg = document.documentElement;\n"
	"  frames = document.getElementById(\"frames\");\n"
	"  details = document.getElementById(\"details\").firstChild;\n"
	"  unzoombtn = document.getElementById(\"unzoom\");\n"
	"  matchedtxt = document.getElementById(\"matched\");\n"
	"  total = num(svg, \"data-total\"); xpad = num(svg, \"data-xpad\");\n"
	"  width = num(svg, \"data-width\");\n"
	"  var h = window.location.hash.substring(1).split(\"&\");\n"
	"  for (var i = 0; i < h.length; i++) {\n"
	"    var eq = h[i].indexOf(\"=\");\n"
	"    if (eq < 0) continue;\n"
	"    var k = h[i].substring(0, eq), v = decodeURIComponent(h[i].substring(eq + 1));\n"
	"    if (k === \"zoom\" && frames.getElementsByTagName(\"g\")[+v])\n"
	"      zoom(frames.getElementsByTagName(\"g\")[+v]);\n"
	"    if (k === \"search\") search(v);\n"
	"  }\n"
	"}\n"
	"function group(n) {\n"
	"  for (; n && n.nodeType === 1; n = n.parentNode)\n"
	"    if (n.classList && n.classList.contains(\"f\")) return n;\n"
	"  return null;\n"
	"}\n"
	"function title(g) { return g.getElementsByTagName(\"title\")[0].firstChild.nodeValue; }\n"
	"function name_of(g) { return title(g).replace(/ \\([^(]*\\)$/, \"\"); }\n"
	"function label(g, w) {\n"
	"  var t = g.getElementsByTagName(\"text\")[0], name = name_of(g);\n"
	"  var fit = Math.floor((w - 6) / (fontsize * fontwidth));\n"
	"  t.textContent = fit < 3 ? \"\" : name.length <= fit ? name : name.substring(0, fit - 2) + \"..\";\n"
	"}\n"
	"function place(g, x, w) {\n"
	"  var r = g.getElementsByTagName(\"rect\")[0];\n"
	"  r.setAttribute(\"x\", x.toFixed(2));\n"
	"  r.setAttribute(\"width\", w.toFixed(2));\n"
	"  g.getElementsByTagName(\"text\")[0].setAttribute(\"x\", (x + 3).toFixed(2));\n"
	"  label(g, w);\n"
	"}\n"
	"function zoom(node) {\n"
	"  var s0 = num(node, \"data-s\"), n0 = num(node, \"data-n\"), d0 = num(node, \"data-d\");\n"
	"  var scale = (width - 2 * xpad) / n0, gs = frames.getElementsByTagName(\"g\");\n"
	"  for (var i = 0; i < gs.length; i++) {\n"
	"    var g = gs[i], s = num(g, \"data-s\"), n = num(g, \"data-n\"), d = num(g, \"data-d\");\n"
	"    g.classList.remove(\"hide\"); g.classList.remove(\"parent\");\n"
	"    if (d >= d0 && s >= s0 && s + n <= s0 + n0) {\n"
	"      place(g, xpad + (s - s0) * scale, n * scale);\n"
	"    } else if (d < d0 && s <= s0 && s + n >= s0 + n0) {\n"
	"      g.classList.add(\"parent\");\n"
	"      place(g, xpad, width - 2 * xpad);\n"
	"    } else {\n"
	"      g.classList.add(\"hide\");\n"
	"    }\n"
	"  }\n"
	"  unzoombtn.classList.remove(\"hide\");\n"
	"  svg.setAttribute(\"data-zoomed\", name_of(node));\n"
	"}\n"
	"function unzoom() {\n"
	"  var scale = (width - 2 * xpad) / total, gs = frames.getElementsByTagName(\"g\");\n"
	"  for (var i = 0; i < gs.length; i++) {\n"
	"    var g = gs[i];\n"
	"    g.classList.remove(\"hide\"); g.classList.remove(\"parent\");\n"
	"    place(g, xpad + num(g, \"data-s\") * scale, num(g, \"data-n\") * scale);\n"
	"  }\n"
	"  unzoombtn.classList.add(\"hide\");\n"
	"  svg.removeAttribute(\"data-zoomed\");\n"
	"}\n"
	"function search(term) {\n"
	"  var re, gs = frames.getElementsByTagName(\"g\"), hits = [], sum = 0, end = -1;\n"
	"  try { re = new RegExp(term); } catch (e) { matchedtxt.textContent = \"Bad expression\"; return; }\n"
	"  for (var i = 0; i < gs.length; i++) {\n"
	"    var g = gs[i], r = g.getElementsByTagName(\"rect\")[0];\n"
	"    if (!r.hasAttribute(\"data-fill\")) r.setAttribute(\"data-fill\", r.getAttribute(\"fill\"));\n"
	"    var hit = term !== \"\" && re.test(name_of(g));\n"
	"    r.setAttribute(\"fill\", hit ? \"rgb(230,0,230)\" : r.getAttribute(\"data-fill\"));\n"
	"    if (hit) hits.push([num(g, \"data-s\"), num(g, \"data-s\") + num(g, \"data-n\")]);\n"
	"  }\n"
	"  hits.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });\n"
	"  for (var k = 0; k < hits.length; k++) {\n"
	"    if (hits[k][1] <= end) continue;\n"
	"    sum += hits[k][1] - Math.max(hits[k][0], end);\n"
	"    end = hits[k][1];\n"
	"  }\n"
	"  var pct = total ? 100 * sum / total : 0;\n"
	"  matchedtxt.textContent = term === \"\" ? \" \" : \"Matched: \" + pct.toFixed(1) + \"%\";\n"
	"  svg.setAttribute(\"data-matched\", hits.length + \":\" + pct.toFixed(1));\n"
	"}\n"
	"function search_prompt() {\n"
	"  var term = window.prompt(\"Search for (a regular expression):\", \"\");\n"
	"  if (term !== null) search(term);\n"
	"}\n"
	"window.addEventListener(\"mouseover\", function (e) {\n"
	"  var g = group(e.target);\n"
	"  if (g) details.nodeValue = title(g);\n"
	"}, false);\n"
	"window.addEventListener(\"mouseout\", function (e) {\n"
	"  if (group(e.target)) details.nodeValue = \" \";\n"
	"}, false);\n"
	"window.addEventListener(\"click\", function (e) {\n"
	"  var g = group(e.target);\n"
	"  if (g) zoom(g);\n"
	"}, false);\n";

static const char fg_style[] =
	"text { font-family: Verdana, sans-serif; font-size: 12px; fill: rgb(0,0,0); }\n"
	"#title { text-anchor: middle; font-size: 17px; }\n"
	"#subtitle { text-anchor: middle; fill: rgb(120,120,120); }\n"
	"#search, #unzoom { cursor: pointer; }\n"
	"#search:hover, #unzoom:hover { fill: rgb(0,0,160); }\n"
	".f:hover rect { stroke: black; stroke-width: 0.5; cursor: pointer; }\n"
	".hide { display: none; }\n"
	".parent { opacity: 0.5; }\n";

static void head(struct fg *g, const struct uprobe_flamegraph_opts *o, unsigned int width)
{
	const char *title = o && o->title ? o->title : "Flame Graph";

	fprintf(g->out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\" "
		"onload=\"init(evt)\" data-total=\"%" PRIu64 "\" data-xpad=\"%d\" data-width=\"%u\" "
		"data-unit=\"", width, g->height, width, g->height, g->total, FG_XPAD, width);
	put_xml(g->out, g->unit, strlen(g->unit));
	fprintf(g->out, "\" xmlns=\"http://www.w3.org/2000/svg\">\n<style type=\"text/css\">\n%s"
		"</style>\n<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
		"<stop stop-color=\"#eeeeee\" offset=\"5%%\"/><stop stop-color=\"#eeeeb0\" "
		"offset=\"95%%\"/></linearGradient></defs>\n<script type=\"text/ecmascript\"><![CDATA[\n"
		"%s]]></script>\n", fg_style, fg_script);
	fprintf(g->out, "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" fill=\"url(#background)\"/>\n"
		"<text id=\"title\" x=\"%u\" y=\"24\">", width, g->height, width / 2);
	put_xml(g->out, title, strlen(title));
	fputs("</text>\n", g->out);
	if (o && o->subtitle) {
		fprintf(g->out, "<text id=\"subtitle\" x=\"%u\" y=\"42\">", width / 2);
		put_xml(g->out, o->subtitle, strlen(o->subtitle));
		fputs("</text>\n", g->out);
	}
	fprintf(g->out, "<text id=\"unzoom\" class=\"hide\" x=\"%d\" y=\"24\" onclick=\"unzoom()\">"
		"Reset Zoom</text>\n<text id=\"search\" x=\"%u\" y=\"24\" onclick=\"search_prompt()\">"
		"Search</text>\n<text id=\"matched\" x=\"%u\" y=\"%u\"> </text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%u\"> </text>\n<g id=\"frames\">\n", FG_XPAD,
		width - FG_XPAD - 60, width - FG_XPAD - 110, g->height - 12, FG_XPAD,
		g->height - 12);
}

UPROBE_API int uprobe_flamegraph_write(const struct uprobe_folded *f,
				       const struct uprobe_flamegraph_opts *o, FILE *out)
{
	struct fg_node root = { .name = "all", .len = 3 };
	const struct folded_entry **v;
	struct fg g = { .out = out };
	unsigned int width;
	long n;
	int err = 0;

	if (!f || !out || (o && o->sz < sizeof(*o)))
		return -EINVAL;
	width = o && o->width ? o->width : 1200;
	g.unit = o && o->count_name ? o->count_name : "samples";
	n = folded_sorted(f, &v);
	if (n < 0)
		return (int)n;
	for (long i = 0; i < n && !err; i++)
		err = tree_add(&root, v[i]->key, v[i]->count, &g.depth);
	g.total = root.n ? root.n : 1;
	g.scale = (double)(width - 2 * FG_XPAD) / (double)g.total;
	g.height = FG_TOP + (g.depth + 1) * FG_FRAME_H + FG_BOTTOM;
	if (!err) {
		head(&g, o, width);
		if (root.n)
			frames(&g, &root, 0, 0);
		fputs("</g>\n</svg>\n", out);
		err = ferror(out) ? -EIO : 0;
	}
	tree_free(root.kids);
	free(v);
	return err;
}
