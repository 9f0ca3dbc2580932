#!/usr/bin/env bash
# No banned string functions in the sources (STYLE.md): unbounded copies and
# parsers that cannot report errors. Comments are stripped before matching.
src=$1
fail=0
for f in "$src"/src/*.c "$src"/dissectors/*.c "$src"/include/*.h "$src"/tools/*.c; do
	hits=$(sed -e 's://.*$::' -e 's:/\*.*\*/::g' "$f" |
	       grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|sscanf|gets)[[:space:]]*\(' )
	if [ -n "$hits" ]; then
		echo "banned function in ${f#$src/}:"; echo "$hits"; fail=$((fail + 1))
	fi
done
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
