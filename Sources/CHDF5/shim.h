// HDF5's C API. Swift cannot import the macros below (they expand to global variables that are
// initialised on first use through H5open), so each becomes a static inline function.
#include <hdf5.h>

static inline hid_t gt_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t gt_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t gt_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t gt_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t gt_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t gt_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t gt_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t gt_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t gt_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t gt_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t gt_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t gt_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t gt_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t gt_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t gt_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t gt_H5P_DATASET_XFER(void) { return H5P_DATASET_XFER; }
static inline hid_t gt_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t gt_H5S_ALL(void) { return H5S_ALL; }
static inline hsize_t gt_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
static inline size_t gt_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline unsigned gt_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned gt_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline unsigned gt_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned gt_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline hid_t gt_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline H5F_libver_t gt_H5F_LIBVER_LATEST(void) { return H5F_LIBVER_LATEST; }
static inline unsigned gt_H5F_ACC_SWMR_WRITE(void) { return H5F_ACC_SWMR_WRITE; }
static inline unsigned gt_H5F_ACC_SWMR_READ(void) { return H5F_ACC_SWMR_READ; }
