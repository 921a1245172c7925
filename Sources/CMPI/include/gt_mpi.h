// gradtrace's bridge to Open MPI (Debian's libopenmpi-dev, libmpi.so.40), loaded at run time.
//
// The library is opened with dlopen only when a run was started by mpirun (or srun) with more
// than one rank, so a single-process gradtrace neither links nor loads MPI. The few calls
// gradtrace makes are looked up by name; the predefined handles (MPI_COMM_WORLD, MPI_FLOAT,
// MPI_DOUBLE, MPI_BYTE) are, in Open MPI's ABI, the addresses of the exported objects
// ompi_mpi_comm_world, ompi_mpi_float, ompi_mpi_double and ompi_mpi_byte.
//
// Every collective is started non-blocking and completed by polling (gt_mpi_test), so that a
// caller waiting for the other ranks can still notice a failure message or a signal.
#ifndef GT_MPI_H
#define GT_MPI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Opens the MPI library (`library`, or libmpi.so.40 when NULL) and finds every function.
/// Returns 0, or -1 with a message in `error`.
int gt_mpi_load(const char *library, char *error, size_t error_size);

/// MPI_Init_thread (funneled: only the calling thread makes MPI calls), then this process's
/// rank and the number of ranks. Returns an MPI error code (0: success).
int gt_mpi_init(int *rank, int *size);

/// MPI_Finalize. Returns an MPI error code.
int gt_mpi_finalize(void);

/// MPI_Abort on every rank of the job with `code`; does not return when MPI works.
void gt_mpi_abort(int code);

/// An operation in flight (an MPI_Request).
typedef void *gt_mpi_request;

/// Element types of the exchanges.
enum { GT_MPI_FLOAT = 0, GT_MPI_DOUBLE = 1, GT_MPI_BYTE = 2 };

/// MPI_Ialltoall: `count` elements to and from each rank (send and receive hold size·count).
int gt_mpi_ialltoall(const void *send, void *receive, int count, int type, gt_mpi_request *request);

/// MPI_Iallgather: `count` elements from each rank (receive holds size·count, rank order).
int gt_mpi_iallgather(const void *send, void *receive, int count, int type, gt_mpi_request *request);

/// MPI_Ibarrier.
int gt_mpi_ibarrier(gt_mpi_request *request);

/// MPI_Test: sets *done to 1 when the operation has completed (the request is then freed).
int gt_mpi_test(gt_mpi_request *request, int *done);

/// MPI_Send of `length` bytes to `destination` with `tag` (small messages: returns at once).
int gt_mpi_send_bytes(const void *bytes, int length, int destination, int tag);

/// MPI_Iprobe for a message with `tag` from any rank: *found 1 with its source and length.
int gt_mpi_probe_bytes(int tag, int *found, int *source, int *length);

/// MPI_Recv of a probed message (`length` bytes from `source` with `tag`).
int gt_mpi_receive_bytes(void *bytes, int length, int source, int tag);

#ifdef __cplusplus
}
#endif

#endif
