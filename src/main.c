/* main.c - command line. (Being written: the core lands in this session.) */
#include <stdio.h>
int main(void)
{
	fputs("mailsift: core not built yet\n", stderr);
	return 2;
}
