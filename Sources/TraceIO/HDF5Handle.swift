internal import CHDF5

/// One HDF5 identifier (a dataset, dataspace, datatype, property list, group or attribute)
/// owned by this object and closed exactly once, when the last reference goes: on every path
/// out of a function, thrown errors included, with no `defer` to forget.
final class HDF5Handle {
  let id: hid_t
  private let close: (hid_t) -> herr_t

  /// Takes ownership of `id` (what an HDF5 create or open call returned).
  /// - Throws: `failure` when `id` is negative (the call failed; there is nothing to close).
  init(_ id: hid_t, closedBy close: @escaping (hid_t) -> herr_t, failure: () -> HDF5Error) throws(HDF5Error) {
    guard id >= 0 else { throw failure() }
    self.id = id
    self.close = close
  }

  deinit { _ = close(id) }
}

/// Every HDF5 call in this module goes through one of these (a test greps for any that does
/// not): a failed call throws an `HDF5Error` with the operation, the file, the object and
/// HDF5's own error stack.
extension HDF5File {
  /// A status (`herr_t`), a tri-state (`htri_t`) or a count: negative is a failure; the value
  /// is returned otherwise.
  @discardableResult
  func check<Status: BinaryInteger>(_ status: Status, _ operation: String, _ objectPath: String) throws(HDF5Error)
    -> Status
  {
    if status < 0 { throw error(operation, objectPath) }
    return status
  }

  /// A size (`size_t`): 0 is a failure.
  func checkSize(_ size: Int, _ operation: String, _ objectPath: String) throws(HDF5Error) -> Int {
    if size == 0 { throw error(operation, objectPath) }
    return size
  }

  /// A datatype class: `H5T_NO_CLASS` is a failure.
  func checkClass(_ typeClass: H5T_class_t, _ operation: String, _ objectPath: String) throws(HDF5Error)
    -> H5T_class_t
  {
    if typeClass == H5T_NO_CLASS { throw error(operation, objectPath) }
    return typeClass
  }

  /// An identifier, owned.
  func handle(
    _ id: hid_t, closedBy close: @escaping (hid_t) -> herr_t, _ operation: String, _ objectPath: String
  ) throws(HDF5Error) -> HDF5Handle {
    try HDF5Handle(id, closedBy: close) { error(operation, objectPath) }
  }

  /// A new property list of `propertyClass` (file access, dataset creation, link creation, …).
  func propertyList(_ propertyClass: hid_t, for objectPath: String) throws(HDF5Error) -> HDF5Handle {
    try handle(H5Pcreate(propertyClass), closedBy: H5Pclose, "cannot create properties for", objectPath)
  }

  /// The dataspace of an open dataset.
  func space(of dataset: HDF5Handle, _ objectPath: String) throws(HDF5Error) -> HDF5Handle {
    try handle(H5Dget_space(dataset.id), closedBy: H5Sclose, "cannot read the shape of", objectPath)
  }

  /// The stored element type of an open dataset.
  func type(of dataset: HDF5Handle, _ objectPath: String) throws(HDF5Error) -> HDF5Handle {
    try handle(H5Dget_type(dataset.id), closedBy: H5Tclose, "cannot read the element type of", objectPath)
  }

  /// A simple dataspace of `dimensions` (unlimited where `maximum` says).
  func simpleSpace(_ dimensions: [hsize_t], maximum: [hsize_t]? = nil, for objectPath: String) throws(HDF5Error)
    -> HDF5Handle
  {
    try handle(
      H5Screate_simple(Int32(dimensions.count), dimensions, maximum), closedBy: H5Sclose,
      "cannot create a dataspace for", objectPath)
  }

  /// A copy of the C string type, of `size` bytes (or variable length), in UTF-8.
  func stringType(size: Int?, for objectPath: String) throws(HDF5Error) -> HDF5Handle {
    let type = try handle(H5Tcopy(gt_H5T_C_S1()), closedBy: H5Tclose, "cannot create a string type for", objectPath)
    try check(H5Tset_size(type.id, size ?? gt_H5T_VARIABLE()), "cannot size the string type of", objectPath)
    try check(H5Tset_cset(type.id, H5T_CSET_UTF8), "cannot set UTF-8 on the string type of", objectPath)
    return type
  }

  /// The character set a string type stores (HDF5 does not convert between them: strings are
  /// read in the one stored).
  func storedCharacterSet(_ type: HDF5Handle, _ objectPath: String) throws(HDF5Error) -> H5T_cset_t {
    H5T_cset_t(rawValue: try check(H5Tget_cset(type.id).rawValue, "cannot read the character set of", objectPath))
  }
}
