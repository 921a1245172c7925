// See include/gt_mpi.h. The MPI types are Open MPI's: handles are pointers, MPI_Status begins
// with the public ints MPI_SOURCE, MPI_TAG, MPI_ERROR (room is left for its private fields).
#include "gt_mpi.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef void *handle;
typedef struct {
  int source, tag, error;
  int private_fields[8];
} status;

static struct {
  handle comm_world, type_float, type_double, type_byte;
  int (*init_thread)(int *, char ***, int, int *);
  int (*comm_rank)(handle, int *);
  int (*comm_size)(handle, int *);
  int (*finalize)(void);
  int (*abort)(handle, int);
  int (*ialltoall)(const void *, int, handle, void *, int, handle, handle, gt_mpi_request *);
  int (*iallgather)(const void *, int, handle, void *, int, handle, handle, gt_mpi_request *);
  int (*ibarrier)(handle, gt_mpi_request *);
  int (*test)(gt_mpi_request *, int *, status *);
  int (*send)(const void *, int, handle, int, int, handle);
  int (*iprobe)(int, int, handle, int *, status *);
  int (*recv)(void *, int, handle, int, int, handle, status *);
  int (*get_count)(const status *, handle, int *);
} mpi;

static int find(void *library, const char *name, void **symbol, char *error, size_t error_size) {
  *symbol = dlsym(library, name);
  if (*symbol == NULL) {
    snprintf(error, error_size, "the MPI library has no %s (is it Open MPI 4 or later?)", name);
    return -1;
  }
  return 0;
}

int gt_mpi_load(const char *library, char *error, size_t error_size) {
  const char *path = library != NULL ? library : "libmpi.so.40";
  // RTLD_GLOBAL: Open MPI's own plugins resolve their symbols against libmpi.
  void *opened = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (opened == NULL) {
    snprintf(error, error_size, "cannot open %s: %s (install Open MPI: apt-get install openmpi-bin)", path,
             dlerror());
    return -1;
  }
  struct {
    const char *name;
    void **symbol;
  } symbols[] = {
      {"ompi_mpi_comm_world", (void **)&mpi.comm_world}, {"ompi_mpi_float", (void **)&mpi.type_float},
      {"ompi_mpi_double", (void **)&mpi.type_double},    {"ompi_mpi_byte", (void **)&mpi.type_byte},
      {"MPI_Init_thread", (void **)&mpi.init_thread},    {"MPI_Comm_rank", (void **)&mpi.comm_rank},
      {"MPI_Comm_size", (void **)&mpi.comm_size},        {"MPI_Finalize", (void **)&mpi.finalize},
      {"MPI_Abort", (void **)&mpi.abort},                {"MPI_Ialltoall", (void **)&mpi.ialltoall},
      {"MPI_Iallgather", (void **)&mpi.iallgather},      {"MPI_Ibarrier", (void **)&mpi.ibarrier},
      {"MPI_Test", (void **)&mpi.test},                  {"MPI_Send", (void **)&mpi.send},
      {"MPI_Iprobe", (void **)&mpi.iprobe},              {"MPI_Recv", (void **)&mpi.recv},
      {"MPI_Get_count", (void **)&mpi.get_count},
  };
  for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
    if (find(opened, symbols[i].name, symbols[i].symbol, error, error_size) != 0) return -1;
  }
  return 0;
}

int gt_mpi_init(int *rank, int *size) {
  int provided = 0;
  int code = mpi.init_thread(NULL, NULL, 1 /* MPI_THREAD_FUNNELED */, &provided);
  if (code != 0) return code;
  code = mpi.comm_rank(mpi.comm_world, rank);
  if (code != 0) return code;
  return mpi.comm_size(mpi.comm_world, size);
}

int gt_mpi_finalize(void) { return mpi.finalize(); }

void gt_mpi_abort(int code) { mpi.abort(mpi.comm_world, code); }

static handle type(int type) {
  switch (type) {
  case GT_MPI_FLOAT: return mpi.type_float;
  case GT_MPI_DOUBLE: return mpi.type_double;
  default: return mpi.type_byte;
  }
}

int gt_mpi_ialltoall(const void *send, void *receive, int count, int element, gt_mpi_request *request) {
  return mpi.ialltoall(send, count, type(element), receive, count, type(element), mpi.comm_world, request);
}

int gt_mpi_iallgather(const void *send, void *receive, int count, int element, gt_mpi_request *request) {
  return mpi.iallgather(send, count, type(element), receive, count, type(element), mpi.comm_world, request);
}

int gt_mpi_ibarrier(gt_mpi_request *request) { return mpi.ibarrier(mpi.comm_world, request); }

int gt_mpi_test(gt_mpi_request *request, int *done) { return mpi.test(request, done, NULL); }

int gt_mpi_send_bytes(const void *bytes, int length, int destination, int tag) {
  return mpi.send(bytes, length, mpi.type_byte, destination, tag, mpi.comm_world);
}

int gt_mpi_probe_bytes(int tag, int *found, int *source, int *length) {
  status probed;
  memset(&probed, 0, sizeof probed);
  int code = mpi.iprobe(-1 /* MPI_ANY_SOURCE */, tag, mpi.comm_world, found, &probed);
  if (code != 0 || !*found) return code;
  *source = probed.source;
  return mpi.get_count(&probed, mpi.type_byte, length);
}

int gt_mpi_receive_bytes(void *bytes, int length, int source, int tag) {
  return mpi.recv(bytes, length, mpi.type_byte, source, tag, mpi.comm_world, NULL);
}
