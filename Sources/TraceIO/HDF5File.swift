import Foundation
#if canImport(Glibc)
  import Glibc
#endif
internal import CHDF5

/// An open HDF5 file: the one owner of its handle, closed exactly once (by `close()` or,
/// failing that, `deinit`).
///
/// Paths are absolute within the file (`/parameters/input_conv.conv_0.weight`); writing a
/// dataset creates its missing parent groups. Every failure throws an `HDF5Error` naming the
/// file, the object and HDF5's reason.
public final class HDF5File {
  /// The path on disk.
  public private(set) var path: String
  var handle: hid_t

  /// Creates a new file, replacing any file at `path`.
  /// - Parameters:
  ///   - checksummedMetadata: write HDF5's newest format, whose superblock, object headers (and
  ///     the attributes in them) carry checksums that every read verifies.
  ///   - userBlock: bytes reserved at the start of the file for the caller (a power of 2, at
  ///     least 512, or 0); HDF5 and every reader of the file skip them.
  public init(creating path: String, checksummedMetadata: Bool = false, userBlock: Int = 0) throws(HDF5Error) {
    HDF5Library.quiet
    self.path = path
    try Self.checkCreatable(path)
    let fapl = H5Pcreate(gt_H5P_FILE_ACCESS())
    defer { H5Pclose(fapl) }
    if checksummedMetadata { H5Pset_libver_bounds(fapl, gt_H5F_LIBVER_LATEST(), gt_H5F_LIBVER_LATEST()) }
    let fcpl = H5Pcreate(gt_H5P_FILE_CREATE())
    defer { H5Pclose(fcpl) }
    if userBlock > 0 && H5Pset_userblock(fcpl, hsize_t(userBlock)) < 0 {
      throw Self.error("cannot reserve a \(userBlock)-byte user block in", file: path, object: "")
    }
    handle = H5Fcreate(path, gt_H5F_ACC_TRUNC(), fcpl, fapl)
    if handle < 0 { throw Self.error("cannot create the file", file: path, object: "") }
  }

  /// What the file system says before HDF5 is asked, in one plain sentence: a missing file, a
  /// directory, a file that cannot be read.
  static func checkReadable(_ path: String) throws(HDF5Error) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw HDF5Error(operation: "no such file", file: path, objectPath: "", details: [])
    }
    if isDirectory.boolValue {
      throw HDF5Error(operation: "is a directory, not an HDF5 file", file: path, objectPath: "", details: [])
    }
    guard FileManager.default.isReadableFile(atPath: path) else {
      throw HDF5Error(operation: "cannot be read (permission denied)", file: path, objectPath: "", details: [])
    }
  }

  /// The same before a file is created: its directory must exist and take new files.
  public static func checkCreatable(_ path: String) throws(HDF5Error) {
    let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
      throw HDF5Error(operation: "is a directory: give a file name inside it", file: path, objectPath: "", details: [])
    }
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw HDF5Error(
        operation: "cannot be created: no directory \(directory)", file: path, objectPath: "", details: [])
    }
    guard FileManager.default.isWritableFile(atPath: directory) else {
      throw HDF5Error(
        operation: "cannot be created: \(directory) is read-only or not writable", file: path, objectPath: "",
        details: [])
    }
  }

  /// Clears the mark a writer leaves in the superblock while it has the file open (what
  /// `h5clear -s` does), so that a file whose writer was killed opens again everywhere, and
  /// extends the recorded end of allocation to the file's end (`h5clear --increment=0`). Every
  /// flushed object stays as it is.
  public static func clearWriterMark(_ path: String) throws(HDF5Error) {
    HDF5Library.quiet
    try checkReadable(path)
    let fapl = H5Pcreate(gt_H5P_FILE_ACCESS())
    defer { H5Pclose(fapl) }
    H5Pset_libver_bounds(fapl, gt_H5F_LIBVER_LATEST(), gt_H5F_LIBVER_LATEST())
    H5Pset_file_locking(fapl, false, true)
    // HDF5's own (unexported) file-access property behind h5clear -s.
    var clear = true
    guard H5Pset(fapl, "clear_status_flags", &clear) >= 0 else {
      throw error("cannot ask HDF5 to clear the writer mark of", file: path, object: "")
    }
    let handle = H5Fopen(path, gt_H5F_ACC_RDWR(), fapl)
    if handle < 0 { throw error("cannot open (to clear its writer mark)", file: path, object: "") }
    defer { H5Fclose(handle) }
    // A kill can leave objects written past the end of allocation the superblock records
    // ("addr overflow" on the next read): move that end to the end of the file, as
    // `h5clear --increment=0` does.
    if H5Fincrement_filesize(handle, 0) < 0 {
      throw error("cannot extend the allocated size to the file's end", file: path, object: "")
    }
  }

  /// Opens an existing file for reading.
  public init(reading path: String) throws(HDF5Error) {
    HDF5Library.quiet
    self.path = path
    try Self.checkReadable(path)
    guard H5Fis_hdf5(path) > 0 else {
      throw HDF5Error(operation: "not an HDF5 file", file: path, objectPath: "", details: HDF5Library.errorStack())
    }
    handle = H5Fopen(path, gt_H5F_ACC_RDONLY(), gt_H5P_DEFAULT())
    if handle < 0 { throw Self.error("cannot open the file", file: path, object: "") }
  }

  /// How a trace file is opened.
  public enum Access: Sendable {
    /// Create (replacing), latest format so that SWMR writing can start later.
    case createForAppending
    /// Read and write an existing file (no SWMR).
    case update
    /// Read while a SWMR writer may be appending.
    case readWhileWriting
  }

  /// Opens a file for traces. File locking is off: a SWMR reader (`gradtrace tail`) and the
  /// writer coordinate through SWMR itself.
  public init(_ path: String, access: Access) throws(HDF5Error) {
    HDF5Library.quiet
    self.path = path
    let fapl = H5Pcreate(gt_H5P_FILE_ACCESS())
    defer { H5Pclose(fapl) }
    H5Pset_libver_bounds(fapl, gt_H5F_LIBVER_LATEST(), gt_H5F_LIBVER_LATEST())
    H5Pset_file_locking(fapl, false, true)
    switch access {
    case .createForAppending:
      try Self.checkCreatable(path)
      handle = H5Fcreate(path, gt_H5F_ACC_TRUNC(), gt_H5P_DEFAULT(), fapl)
    case .update:
      try Self.checkReadable(path)
      handle = H5Fopen(path, gt_H5F_ACC_RDWR(), fapl)
    case .readWhileWriting:
      try Self.checkReadable(path)
      guard H5Fis_hdf5(path) > 0 else {
        throw HDF5Error(operation: "not an HDF5 file", file: path, objectPath: "", details: HDF5Library.errorStack())
      }
      // A SWMR reader retries a metadata read whose checksum fails (the writer may be midway
      // through a flush), sleeping twice as long each time. HDF5's default of 100 attempts
      // turns a damaged file into a minutes-long hang; 12 attempts wait at most a few ms.
      H5Pset_metadata_read_attempts(fapl, 12)
      handle = H5Fopen(path, gt_H5F_ACC_RDONLY() | gt_H5F_ACC_SWMR_READ(), fapl)
      if handle < 0 {
        // A file closed normally (not being written) opens without the SWMR flag too.
        H5Eclear2(gt_H5E_DEFAULT())
        handle = H5Fopen(path, gt_H5F_ACC_RDONLY(), fapl)
      }
    }
    if handle < 0 { throw Self.error("cannot open the file", file: path, object: "") }
  }

  deinit { if handle >= 0 { H5Fclose(handle) } }

  /// Gives the open file another name (POSIX rename, replacing whatever had that name; the
  /// open handle stays valid), so that a file is written completely before it appears there.
  public func rename(to newPath: String) throws(HDF5Error) {
    guard Glibc.rename(path, newPath) == 0 else {
      throw HDF5Error(
        operation: "cannot be renamed to \(newPath): \(String(cString: strerror(errno)))", file: path, objectPath: "",
        details: [])
    }
    path = newPath
  }

  /// Flushes and closes the file; later calls throw.
  public func close() throws(HDF5Error) {
    guard handle >= 0 else { return }
    let status = H5Fclose(handle)
    handle = -1
    if status < 0 { throw Self.error("cannot close the file", file: path, object: "") }
  }

  // MARK: Objects

  /// Whether an object (group or dataset) exists at `objectPath`.
  public func exists(_ objectPath: String) -> Bool {
    var prefix = ""
    for component in objectPath.split(separator: "/") {
      prefix += "/" + component
      if H5Lexists(handle, prefix, gt_H5P_DEFAULT()) <= 0 { return false }
    }
    H5Eclear2(gt_H5E_DEFAULT())
    return true
  }

  /// Creates a group and any missing parents; an existing group is left as it is.
  public func createGroup(_ objectPath: String) throws(HDF5Error) {
    if exists(objectPath) { return }
    let properties = try linkCreationProperties(objectPath)
    defer { H5Pclose(properties) }
    let group = H5Gcreate2(handle, objectPath, properties, gt_H5P_DEFAULT(), gt_H5P_DEFAULT())
    if group < 0 { throw error("cannot create group", objectPath) }
    H5Gclose(group)
  }

  /// The names of the direct children of a group, in name order.
  public func children(of groupPath: String) throws(HDF5Error) -> [String] {
    let group = H5Gopen2(handle, groupPath, gt_H5P_DEFAULT())
    if group < 0 { throw error("no group", groupPath) }
    defer { H5Gclose(group) }
    var names: [String] = []
    var index: hsize_t = 0
    let status = withUnsafeMutablePointer(to: &names) { pointer in
      H5Literate(
        group, H5_INDEX_NAME, H5_ITER_INC, &index,
        { _, name, _, context in
          guard let name, let context else { return 0 }
          context.assumingMemoryBound(to: [String].self).pointee.append(String(cString: name))
          return 0
        }, pointer)
    }
    if status < 0 { throw error("cannot list group", groupPath) }
    return names
  }

  // MARK: Datasets

  /// Writes `values` as a new dataset of the given shape, creating parent groups.
  /// - Parameters:
  ///   - compress: store in gzip-compressed chunks (for large tensors).
  ///   - checksum: store in one Fletcher-32-checksummed chunk: a read of damaged data fails.
  public func write<Element: HDF5Element>(
    _ values: [Element], shape: [Int], to objectPath: String, compress: Bool = false, checksum: Bool = false
  ) throws(HDF5Error) {
    guard shape.reduce(1, *) == values.count else {
      throw HDF5Error(
        operation: "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)",
        file: path, objectPath: objectPath, details: [])
    }
    let dimensions = shape.map { hsize_t($0) }
    let space = H5Screate_simple(Int32(shape.count), dimensions, nil)
    if space < 0 { throw error("cannot create dataspace for", objectPath) }
    defer { H5Sclose(space) }
    let linkProperties = try linkCreationProperties(objectPath)
    defer { H5Pclose(linkProperties) }
    let createProperties = H5Pcreate(gt_H5P_DATASET_CREATE())
    defer { H5Pclose(createProperties) }
    if (compress || checksum) && !values.isEmpty && !shape.isEmpty {
      guard H5Pset_chunk(createProperties, Int32(shape.count), dimensions) >= 0 else {
        throw error("cannot set the chunk shape of", objectPath)
      }
      if compress { H5Pset_deflate(createProperties, 4) }
      if checksum {
        guard H5Pset_fletcher32(createProperties) >= 0 else { throw error("cannot checksum", objectPath) }
      }
    }
    let dataset = H5Dcreate2(
      handle, objectPath, Element.hdf5Kind.fileType, space, linkProperties, createProperties,
      gt_H5P_DEFAULT())
    if dataset < 0 { throw error("cannot create dataset", objectPath) }
    defer { H5Dclose(dataset) }
    let status = values.withUnsafeBufferPointer { buffer in
      H5Dwrite(dataset, Element.hdf5Kind.memoryType, gt_H5S_ALL(), gt_H5S_ALL(), gt_H5P_DEFAULT(), buffer.baseAddress)
    }
    if status < 0 { throw error("cannot write dataset", objectPath) }
  }

  /// Reads a whole dataset, converting to `Element`.
  public func read<Element: HDF5Element>(
    _: Element.Type, from objectPath: String
  ) throws(HDF5Error) -> (values: [Element], shape: [Int]) {
    let dataset = try openDataset(objectPath)
    defer { H5Dclose(dataset) }
    let shape = try datasetShape(dataset, objectPath)
    var values = [Element](repeating: Element.hdf5Zero, count: shape.reduce(1, *))
    if values.isEmpty { return (values, shape) }
    let status = values.withUnsafeMutableBufferPointer { buffer in
      H5Dread(dataset, Element.hdf5Kind.memoryType, gt_H5S_ALL(), gt_H5S_ALL(), gt_H5P_DEFAULT(), buffer.baseAddress)
    }
    if status < 0 {
      throw error("cannot read dataset (expected numbers convertible to \(Element.hdf5Kind))", objectPath)
    }
    return (values, shape)
  }

  // MARK: Attributes

  /// Sets a string attribute on the object at `objectPath` (replacing one of the same name).
  public func setAttribute(_ name: String, _ value: String, on objectPath: String = "/") throws(HDF5Error) {
    let type = H5Tcopy(gt_H5T_C_S1())
    defer { H5Tclose(type) }
    H5Tset_size(type, max(1, value.utf8.count))
    H5Tset_cset(type, H5T_CSET_UTF8)
    let bytes = Array(value.utf8)
    try writeAttribute(name, on: objectPath, type: type) { attribute in
      bytes.isEmpty
        ? withUnsafePointer(to: UInt8(0)) { H5Awrite(attribute, type, $0) }
        : bytes.withUnsafeBufferPointer { H5Awrite(attribute, type, $0.baseAddress) }
    }
  }

  /// Sets a scalar numeric attribute on the object at `objectPath`.
  public func setAttribute<Element: HDF5Element>(
    _ name: String, _ value: Element, on objectPath: String = "/"
  ) throws(HDF5Error) {
    try writeAttribute(name, on: objectPath, type: Element.hdf5Kind.fileType) { attribute in
      withUnsafePointer(to: value) { H5Awrite(attribute, Element.hdf5Kind.memoryType, $0) }
    }
  }

  /// Reads a string attribute (fixed- or variable-length).
  public func stringAttribute(_ name: String, on objectPath: String = "/") throws(HDF5Error) -> String {
    let attribute = try openAttribute(name, on: objectPath)
    defer { H5Aclose(attribute) }
    let type = H5Aget_type(attribute)
    defer { H5Tclose(type) }
    guard H5Tget_class(type) == H5T_STRING else {
      throw HDF5Error(operation: "attribute '\(name)' is not a string", file: path, objectPath: objectPath, details: [])
    }
    if H5Tis_variable_str(type) > 0 {
      let memoryType = H5Tcopy(gt_H5T_C_S1())
      defer { H5Tclose(memoryType) }
      H5Tset_size(memoryType, gt_H5T_VARIABLE())
      H5Tset_cset(memoryType, H5Tget_cset(type))
      var pointer: UnsafeMutablePointer<CChar>? = nil
      if H5Aread(attribute, memoryType, &pointer) < 0 { throw error("cannot read attribute '\(name)' of", objectPath) }
      defer { if let pointer { free(pointer) } }
      return pointer.map { String(cString: $0) } ?? ""
    }
    let size = H5Tget_size(type)
    var bytes = [UInt8](repeating: 0, count: size + 1)
    let status = bytes.withUnsafeMutableBufferPointer { H5Aread(attribute, type, $0.baseAddress) }
    if status < 0 { throw error("cannot read attribute '\(name)' of", objectPath) }
    let end = bytes.firstIndex(of: 0) ?? size
    return String(decoding: bytes[..<end], as: UTF8.self)
  }

  /// Reads a scalar numeric attribute, converting to `Element`.
  public func attribute<Element: HDF5Element>(
    _ name: String, as _: Element.Type, on objectPath: String = "/"
  ) throws(HDF5Error) -> Element {
    let attribute = try openAttribute(name, on: objectPath)
    defer { H5Aclose(attribute) }
    var value = Element.hdf5Zero
    let status = withUnsafeMutablePointer(to: &value) { H5Aread(attribute, Element.hdf5Kind.memoryType, $0) }
    if status < 0 { throw error("cannot read attribute '\(name)' as \(Element.hdf5Kind) on", objectPath) }
    return value
  }

  /// Whether the object at `objectPath` has an attribute called `name`.
  public func hasAttribute(_ name: String, on objectPath: String = "/") -> Bool {
    guard objectPath == "/" || exists(objectPath) else { return false }
    return H5Aexists_by_name(handle, objectPath, name, gt_H5P_DEFAULT()) > 0
  }

  // MARK: Internals

  private func openAttribute(_ name: String, on objectPath: String) throws(HDF5Error) -> hid_t {
    guard hasAttribute(name, on: objectPath) else {
      throw HDF5Error(operation: "missing attribute '\(name)' on", file: path, objectPath: objectPath, details: [])
    }
    let attribute = H5Aopen_by_name(handle, objectPath, name, gt_H5P_DEFAULT(), gt_H5P_DEFAULT())
    if attribute < 0 { throw error("cannot open attribute '\(name)' of", objectPath) }
    return attribute
  }

  private func writeAttribute(
    _ name: String, on objectPath: String, type: hid_t, write: (hid_t) -> herr_t
  ) throws(HDF5Error) {
    if H5Aexists_by_name(handle, objectPath, name, gt_H5P_DEFAULT()) > 0 {
      H5Adelete_by_name(handle, objectPath, name, gt_H5P_DEFAULT())
    }
    let space = H5Screate(H5S_SCALAR)
    defer { H5Sclose(space) }
    let attribute = H5Acreate_by_name(
      handle, objectPath, name, type, space, gt_H5P_DEFAULT(), gt_H5P_DEFAULT(), gt_H5P_DEFAULT())
    if attribute < 0 { throw error("cannot create attribute '\(name)' on", objectPath) }
    defer { H5Aclose(attribute) }
    if write(attribute) < 0 { throw error("cannot write attribute '\(name)' on", objectPath) }
  }

  /// Removes the link `objectPath` (a dataset or group) from the file.
  public func remove(_ objectPath: String) throws(HDF5Error) {
    guard exists(objectPath) else {
      throw HDF5Error(operation: "nothing to remove at", file: path, objectPath: objectPath, details: [])
    }
    if H5Ldelete(handle, objectPath, gt_H5P_DEFAULT()) < 0 { throw error("cannot remove", objectPath) }
  }

  /// Opens the dataset at `objectPath` (the caller closes it), or throws "missing dataset".
  func openDataset(_ objectPath: String) throws(HDF5Error) -> hid_t {
    guard exists(objectPath) else {
      throw HDF5Error(operation: "missing dataset", file: path, objectPath: objectPath, details: [])
    }
    let dataset = H5Dopen2(handle, objectPath, gt_H5P_DEFAULT())
    if dataset < 0 { throw error("not a dataset", objectPath) }
    return dataset
  }

  func datasetShape(_ dataset: hid_t, _ objectPath: String) throws(HDF5Error) -> [Int] {
    let space = H5Dget_space(dataset)
    if space < 0 { throw error("cannot read the shape of", objectPath) }
    defer { H5Sclose(space) }
    let rank = Int(H5Sget_simple_extent_ndims(space))
    if rank < 0 { throw error("cannot read the shape of", objectPath) }
    var dimensions = [hsize_t](repeating: 0, count: rank)
    H5Sget_simple_extent_dims(space, &dimensions, nil)
    // A damaged file can claim any extent; refuse one no trace could hold before allocating.
    var elements = 1.0
    for dimension in dimensions { elements *= Double(dimension) }
    guard elements <= Self.largestReadableElementCount, dimensions.allSatisfy({ $0 <= hsize_t(Int.max) }) else {
      throw HDF5Error(
        operation: "implausible shape \(dimensions) (damaged file?)", file: path, objectPath: objectPath, details: [])
    }
    return dimensions.map { Int($0) }
  }

  /// 2³² elements: more than any trace or checkpoint holds (a 10⁶-step × 100-layer trace is 10⁸).
  static let largestReadableElementCount = 4_294_967_296.0

  func linkCreationProperties(_ objectPath: String) throws(HDF5Error) -> hid_t {
    let properties = H5Pcreate(gt_H5P_LINK_CREATE())
    if properties < 0 { throw error("cannot create link properties for", objectPath) }
    H5Pset_create_intermediate_group(properties, 1)
    return properties
  }

  func error(_ operation: String, _ objectPath: String) -> HDF5Error {
    Self.error(operation, file: path, object: objectPath)
  }

  static func error(_ operation: String, file: String, object: String) -> HDF5Error {
    HDF5Error(operation: operation, file: file, objectPath: object, details: HDF5Library.errorStack())
  }
}
