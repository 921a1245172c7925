internal import CHDF5

/// The element types gradtrace stores in HDF5 datasets and attributes.
public enum HDF5ElementKind: String, Sendable {
  case float32, float64, int32, int64, uint8
}

/// A Swift type that maps onto an HDF5 native type. The memory type of every read and write
/// comes from the Swift type, so HDF5 converts when the file stores another one.
public protocol HDF5Element: Sendable, BitwiseCopyable {
  static var hdf5Kind: HDF5ElementKind { get }
  /// The value to use for padding when a reader asks for missing elements (never written).
  static var hdf5Zero: Self { get }
}

extension Float: HDF5Element {
  public static var hdf5Kind: HDF5ElementKind { .float32 }
  public static var hdf5Zero: Float { 0 }
}
extension Double: HDF5Element {
  public static var hdf5Kind: HDF5ElementKind { .float64 }
  public static var hdf5Zero: Double { 0 }
}
extension Int32: HDF5Element {
  public static var hdf5Kind: HDF5ElementKind { .int32 }
  public static var hdf5Zero: Int32 { 0 }
}
extension Int64: HDF5Element {
  public static var hdf5Kind: HDF5ElementKind { .int64 }
  public static var hdf5Zero: Int64 { 0 }
}
extension UInt8: HDF5Element {
  public static var hdf5Kind: HDF5ElementKind { .uint8 }
  public static var hdf5Zero: UInt8 { 0 }
}

extension HDF5ElementKind {
  /// The native (memory) type.
  var memoryType: hid_t {
    switch self {
    case .float32: gt_H5T_NATIVE_FLOAT()
    case .float64: gt_H5T_NATIVE_DOUBLE()
    case .int32: gt_H5T_NATIVE_INT32()
    case .int64: gt_H5T_NATIVE_INT64()
    case .uint8: gt_H5T_NATIVE_UINT8()
    }
  }

  /// The portable little-endian type written to files.
  var fileType: hid_t {
    switch self {
    case .float32: gt_H5T_IEEE_F32LE()
    case .float64: gt_H5T_IEEE_F64LE()
    case .int32: gt_H5T_STD_I32LE()
    case .int64: gt_H5T_STD_I64LE()
    case .uint8: gt_H5T_STD_U8LE()
    }
  }
}
