/* fuzz_imap.c - libFuzzer target for the IMAP dissector (harness and input
 * format in fuzz_session.h). */
#include "fuzz_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_session_dissector(&imap_dissector, data, size);
}
