/* magic.c - file type from leading bytes, extension consistency
 * (see magic.h).
 *
 * Ownership: no allocation; returned strings are static. */
#include <string.h>
#include <strings.h>
#include "magic.h"
#include "utf8.h"

static int starts(const uint8_t *b, size_t n, const char *sig, size_t sl)
{
	return n >= sl && memcmp(b, sig, sl) == 0;
}

static uint32_t le16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | le16(p + 2) << 16;
}

static int name_is_office(const uint8_t *name, size_t nl)
{
	static const char *const pfx[] = { "[Content_Types].xml", "word/", "xl/", "ppt/", "docProps/" };
	for (size_t i = 0; i < sizeof pfx / sizeof pfx[0]; i++) {
		size_t pl = strlen(pfx[i]);
		if (nl >= pl && memcmp(name, pfx[i], pl) == 0)
			return 1;
	}
	return 0;
}

/* Walk the zip local file headers inside the prefix; an OOXML package
 * names [Content_Types].xml or word/ xl/ ppt/ entries early. */
static int zip_is_ooxml(const uint8_t *b, size_t n)
{
	size_t off = 0;
	for (int entries = 0; entries < 64 && off + 30 <= n; entries++) {
		if (memcmp(b + off, "PK\x03\x04", 4) != 0)
			break;
		uint32_t flags = le16(b + off + 6);
		uint32_t csize = le32(b + off + 18);
		uint32_t nlen = le16(b + off + 26), xlen = le16(b + off + 28);
		if (off + 30 + nlen > n)
			break;
		if (name_is_office(b + off + 30, nlen))
			return 1;
		if (flags & 8)
			break; /* sizes follow the data: cannot skip it */
		uint64_t next = (uint64_t)off + 30 + nlen + xlen + csize;
		if (next >= n)
			break;
		off = (size_t)next;
	}
	return 0;
}

/* Case-insensitive search in the prefix. */
static int has(const uint8_t *b, size_t n, const char *needle)
{
	size_t l = strlen(needle);
	for (size_t i = 0; i + l <= n; i++)
		if (strncasecmp((const char *)b + i, needle, l) == 0)
			return 1;
	return 0;
}

static const char *shebang_kind(const uint8_t *b, size_t n)
{
	size_t e = 0;
	while (e < n && b[e] != '\n')
		e++;
	/* Look only at the interpreter line. */
	struct { const char *w, *k; } map[] = {
		{ "python", "python" }, { "perl", "perl" }, { "ruby", "ruby" },
		{ "node", "javascript" }, { "pwsh", "powershell" }, { "powershell", "powershell" },
		{ "php", "php" },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (has(b, e, map[i].w))
			return map[i].k;
	return "shell";
}

/* Markers typical of each script language; the kind with the most hits
 * wins, and a text needs two hits (or one very specific one) to count. */
static const char *script_markers(const uint8_t *b, size_t n)
{
	struct marker { const char *s; int weight; };
	static const struct marker ps[] = {
		{ "Invoke-Expression", 2 }, { "IEX(", 2 }, { "IEX (", 2 }, { "New-Object ", 1 },
		{ "-ExecutionPolicy", 2 }, { "Set-ExecutionPolicy", 2 }, { "$env:", 1 },
		{ "[System.", 1 }, { "Invoke-WebRequest", 2 }, { "DownloadString(", 2 },
		{ "FromBase64String(", 1 }, { "Write-Host", 1 }, { "Start-Process", 1 },
		{ "Get-ChildItem", 1 }, { "$PSVersionTable", 2 }, { "param(", 1 },
		{ "-EncodedCommand", 2 }, { "Net.WebClient", 1 }, { NULL, 0 } };
	static const struct marker vbs[] = {
		{ "CreateObject(", 2 }, { "WScript.Shell", 1 }, { "On Error Resume Next", 2 },
		{ "Dim ", 1 }, { "End Sub", 2 }, { "End Function", 2 }, { "Set obj", 1 },
		{ "MsgBox", 1 }, { "WScript.Echo", 1 }, { NULL, 0 } };
	static const struct marker js[] = {
		{ "new ActiveXObject(", 2 }, { "WScript.CreateObject(", 2 }, { "var ", 1 },
		{ "function(", 1 }, { "function (", 1 }, { "eval(", 1 }, { "document.write(", 1 },
		{ "String.fromCharCode(", 2 }, { NULL, 0 } };
	static const struct marker bat[] = {
		{ "@echo off", 3 }, { "echo off", 2 }, { "%~dp0", 2 }, { "setlocal", 1 },
		{ "goto :", 1 }, { "cmd /c", 1 }, { "cmd.exe /c", 1 }, { NULL, 0 } };
	static const struct { const struct marker *m; const char *kind; } kinds[] = {
		{ ps, "powershell" }, { bat, "batch" }, { js, "javascript" }, { vbs, "vbscript" },
	};
	const char *best = NULL;
	int bestw = 0;
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		int w = 0;
		for (const struct marker *m = kinds[k].m; m->s; m++)
			if (has(b, n, m->s))
				w += m->weight;
		if (w > bestw) {
			bestw = w;
			best = kinds[k].kind;
		}
	}
	return bestw >= 2 ? best : NULL;
}

/* Text: no NUL, and valid UTF-8 except possibly a sequence cut by the end
 * of the prefix, or a legacy 8-bit text with few control bytes. */
static int looks_text(const uint8_t *b, size_t n, int cut)
{
	size_t ctl = 0, i = 0, bad = 0;
	if (n >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == 0xfe && b[1] == 0xff)))
		return 1; /* UTF-16 with a BOM */
	while (i < n) {
		uint8_t c = b[i];
		if (c == 0)
			return 0;
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b)
			ctl++;
		size_t l = utf8_seq_len(b + i, n - i);
		if (l == 0) {
			if (cut && n - i < 4 && c >= 0xc2)
				break; /* the prefix ended inside a sequence */
			bad++;
			l = 1;
		}
		i += l;
	}
	if (ctl * 20 > n)
		return 0;
	if (bad && bad * 4 > n)
		return 0; /* mostly non-UTF-8 high bytes: binary */
	return 1;
}

void magic_detect(const uint8_t *b, size_t n, uint64_t total, struct magic_result *r)
{
	r->script_kind = NULL;
	if (total == 0 || n == 0) {
		r->type = "empty";
		return;
	}
	if (starts(b, n, "PK\x03\x04", 4)) {
		r->type = zip_is_ooxml(b, n) ? "ooxml" : "zip";
		return;
	}
	if (starts(b, n, "PK\x05\x06", 4) || starts(b, n, "PK\x07\x08", 4)) {
		r->type = "zip";
		return;
	}
	static const struct { const char *sig; size_t len; const char *type; } sigs[] = {
		{ "7z\xbc\xaf\x27\x1c", 6, "7z" },
		{ "Rar!\x1a\x07", 6, "rar" },
		{ "\x1f\x8b", 2, "gzip" },
		{ "BZh", 3, "bzip2" },
		{ "\xfd" "7zXZ\x00", 6, "xz" },
		{ "MZ", 2, "exe" },
		{ "\x7f" "ELF", 4, "elf" },
		{ "\xfe\xed\xfa\xce", 4, "macho" },
		{ "\xfe\xed\xfa\xcf", 4, "macho" },
		{ "\xce\xfa\xed\xfe", 4, "macho" },
		{ "\xcf\xfa\xed\xfe", 4, "macho" },
		{ "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "ole" },
		{ "\x89PNG\r\n\x1a\n", 8, "image" },
		{ "\xff\xd8\xff", 3, "image" },
		{ "GIF87a", 6, "image" },
		{ "GIF89a", 6, "image" },
		{ "%PDF-", 5, "pdf" },
	};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		if (starts(b, n, sigs[i].sig, sigs[i].len)) {
			r->type = sigs[i].type;
			return;
		}
	}
	/* Mach-O fat binaries share CAFEBABE with Java classes; a fat header's
	 * next word is a small architecture count, a class's is its version. */
	if (starts(b, n, "\xca\xfe\xba\xbe", 4) && n >= 8 &&
	    ((uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7]) < 20) {
		r->type = "macho";
		return;
	}
	/* Readers accept "%PDF-" anywhere in the first KB; so do attackers. */
	size_t pn = n < 1024 ? n : 1024;
	if (memmem(b, pn, "%PDF-", 5)) {
		r->type = "pdf";
		return;
	}
	if (!looks_text(b, n, total > n)) {
		r->type = "unknown";
		return;
	}
	size_t s = 0;
	if (starts(b, n, "\xef\xbb\xbf", 3))
		s = 3;
	while (s < n && (b[s] == ' ' || b[s] == '\t' || b[s] == '\r' || b[s] == '\n'))
		s++;
	if (n - s >= 2 && b[s] == '#' && b[s + 1] == '!') {
		r->type = "script";
		r->script_kind = shebang_kind(b + s, n - s);
		return;
	}
	const char *k = script_markers(b, n);
	if (k) {
		r->type = "script";
		r->script_kind = k;
		return;
	}
	r->type = "text";
}

int magic_extension_mismatch(const char *filename, const char *magic_type)
{
	static const struct { const char *ext; const char *types; } map[] = {
		{ "pdf", "pdf" },
		{ "zip", "zip ooxml" },
		{ "docx", "ooxml" }, { "xlsx", "ooxml" }, { "pptx", "ooxml" },
		{ "docm", "ooxml" }, { "xlsm", "ooxml" }, { "pptm", "ooxml" },
		{ "dotx", "ooxml" }, { "xltx", "ooxml" }, { "potx", "ooxml" }, { "ppsx", "ooxml" },
		{ "doc", "ole" }, { "xls", "ole" }, { "ppt", "ole" },
		{ "dot", "ole" }, { "xlt", "ole" }, { "pps", "ole" }, { "msi", "ole" },
		{ "exe", "exe" }, { "dll", "exe" }, { "scr", "exe" }, { "cpl", "exe" },
		{ "sys", "exe" }, { "ocx", "exe" },
		{ "7z", "7z" }, { "rar", "rar" }, { "gz", "gzip" }, { "tgz", "gzip" },
		{ "bz2", "bzip2" }, { "xz", "xz" }, { "txz", "xz" },
		{ "elf", "elf" }, { "so", "elf" }, { "dylib", "macho" },
		{ "png", "image" }, { "jpg", "image" }, { "jpeg", "image" }, { "gif", "image" },
		{ "txt", "text script" }, { "csv", "text" }, { "log", "text script" },
		{ "htm", "text script" }, { "html", "text script" },
		{ "ps1", "script text" }, { "psm1", "script text" }, { "vbs", "script text" },
		{ "js", "script text" }, { "bat", "script text" }, { "cmd", "script text" },
		{ "sh", "script text" }, { "py", "script text" },
	};
	if (!filename || !magic_type || !strcmp(magic_type, "empty"))
		return 0;
	const char *base = strrchr(filename, '/');
	const char *bs = strrchr(filename, '\\');
	if (bs && (!base || bs > base))
		base = bs;
	base = base ? base + 1 : filename;
	const char *dot = strrchr(base, '.');
	if (!dot || !dot[1])
		return 0;
	const char *ext = dot + 1;
	size_t el = strlen(ext);
	/* Trailing blanks or dots ("invoice.pdf  ") are a known trick: ignore. */
	while (el && (ext[el - 1] == ' ' || ext[el - 1] == '.'))
		el--;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		if (strlen(map[i].ext) != el || strncasecmp(map[i].ext, ext, el) != 0)
			continue;
		size_t tl = strlen(magic_type);
		for (const char *t = map[i].types; *t;) {
			const char *sp = strchr(t, ' ');
			size_t l = sp ? (size_t)(sp - t) : strlen(t);
			if (l == tl && !strncmp(t, magic_type, l))
				return 0;
			t += l + (sp ? 1 : 0);
		}
		return 1;
	}
	return 0;
}
