// glibc's allocator tuning (malloc.h is not part of Swift's Glibc module).
#include <malloc.h>

/// Keep freed blocks up to 1 GiB in the heap for reuse instead of unmapping them: a training
/// step frees and reallocates ~10 MB activations, and fresh mappings cost a page fault and a
/// kernel page clear per 4 KiB.
static inline void gt_retain_freed_memory(void) {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
