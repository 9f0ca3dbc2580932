/* sanitizer.h - MAILSIFT_ASAN is 1 in a build with AddressSanitizer
 * (GCC or clang), else 0. Code that recycles memory on its own (caches,
 * skipping frees at exit) turns that off under ASan, so that its checks
 * still see every allocation and free. */
#ifndef MAILSIFT_SANITIZER_H
#define MAILSIFT_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define MAILSIFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAILSIFT_ASAN 1
#endif
#endif
#ifndef MAILSIFT_ASAN
#define MAILSIFT_ASAN 0
#endif

#endif
