// stdio's buffering of standard output (Swift 6 cannot touch C's `stdout` global safely).
#include <stdio.h>

/// Line-buffer standard output: log lines reach a file or pipe as they are printed.
static inline void gt_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
