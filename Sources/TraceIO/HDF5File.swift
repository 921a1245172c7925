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
  /// The file identifier; -1 once closed.
  var handle: hid_t = -1

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
    let fapl = try propertyList(gt_H5P_FILE_ACCESS(), for: "/")
    if checksummedMetadata {
      try check(
        H5Pset_libver_bounds(fapl.id, gt_H5F_LIBVER_LATEST(), gt_H5F_LIBVER_LATEST()),
        "cannot ask for the newest format",
        "/")
    }
    let fcpl = try propertyList(gt_H5P_FILE_CREATE(), for: "/")
    if userBlock > 0 {
      try check(H5Pset_userblock(fcpl.id, hsize_t(userBlock)), "cannot reserve a \(userBlock)-byte user block in", "")
    }
    handle = try check(H5Fcreate(path, gt_H5F_ACC_TRUNC(), fcpl.id, fapl.id), "cannot create the file", "")
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
    // A file object without an open file: its helpers check the calls below.
    let file = HDF5File(unopened: path)
    let fapl = try file.propertyList(gt_H5P_FILE_ACCESS(), for: "/")
    try file.lockingOffAndNewestFormat(fapl)
    // HDF5's own (unexported) file-access property behind h5clear -s.
    var clear = true
    try file.check(
      H5Pset(fapl.id, "clear_status_flags", &clear), "cannot ask HDF5 to clear the writer mark of", "")
    file.handle = try file.check(
      H5Fopen(path, gt_H5F_ACC_RDWR(), fapl.id), "cannot open (to clear its writer mark)", "")
    // A kill can leave objects written past the end of allocation the superblock records
    // ("addr overflow" on the next read): move that end to the end of the file, as
    // `h5clear --increment=0` does.
    try file.check(
      H5Fincrement_filesize(file.handle, 0), "cannot extend the allocated size to the file's end", "")
    try file.close()
  }

  /// Opens an existing file for reading.
  public init(reading path: String) throws(HDF5Error) {
    HDF5Library.quiet
    self.path = path
    try Self.checkReadable(path)
    try checkIsHDF5()
    handle = try check(H5Fopen(path, gt_H5F_ACC_RDONLY(), gt_H5P_DEFAULT()), "cannot open the file", "")
  }

  /// A file object for `path` with nothing open yet.
  private init(unopened path: String) {
    HDF5Library.quiet
    self.path = path
  }

  /// Refuses a file without HDF5's signature before HDF5 parses anything else.
  private func checkIsHDF5() throws(HDF5Error) {
    guard try check(H5Fis_hdf5(path), "not an HDF5 file", "") > 0 else {
      throw HDF5Error(operation: "not an HDF5 file", file: path, objectPath: "", details: [])
    }
  }

  /// File access without locks (SWMR readers and writer coordinate through SWMR itself), in
  /// HDF5's newest format (checksummed metadata; what SWMR needs).
  private func lockingOffAndNewestFormat(_ fapl: HDF5Handle) throws(HDF5Error) {
    try check(
      H5Pset_libver_bounds(fapl.id, gt_H5F_LIBVER_LATEST(), gt_H5F_LIBVER_LATEST()), "cannot ask for the newest format",
      "/")
    try check(H5Pset_file_locking(fapl.id, false, true), "cannot switch file locking off for", "/")
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
    let fapl = try propertyList(gt_H5P_FILE_ACCESS(), for: "/")
    try lockingOffAndNewestFormat(fapl)
    switch access {
    case .createForAppending:
      try Self.checkCreatable(path)
      handle = try check(H5Fcreate(path, gt_H5F_ACC_TRUNC(), gt_H5P_DEFAULT(), fapl.id), "cannot create the file", "")
    case .update:
      try Self.checkReadable(path)
      handle = try check(H5Fopen(path, gt_H5F_ACC_RDWR(), fapl.id), "cannot open the file", "")
    case .readWhileWriting:
      try Self.checkReadable(path)
      try checkIsHDF5()
      // A SWMR reader retries a metadata read whose checksum fails (the writer may be midway
      // through a flush), sleeping twice as long each time. HDF5's default of 100 attempts
      // turns a damaged file into a minutes-long hang; 12 attempts wait at most a few ms.
      try check(H5Pset_metadata_read_attempts(fapl.id, 12), "cannot bound the metadata read attempts for", "/")
      do {
        handle = try check(
          H5Fopen(path, gt_H5F_ACC_RDONLY() | gt_H5F_ACC_SWMR_READ(), fapl.id), "cannot open the file", "")
      } catch {
        // A file closed normally (not being written) opens without the SWMR flag too.
        handle = try check(H5Fopen(path, gt_H5F_ACC_RDONLY(), fapl.id), "cannot open the file", "")
      }
    }
  }

  deinit { if handle >= 0 { _ = try? check(H5Fclose(handle), "cannot close the file", "") } }

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
    let open = handle
    handle = -1
    try check(H5Fclose(open), "cannot close the file", "")
  }

  // MARK: Objects

  /// Whether an object (group or dataset) exists at `objectPath`.
  /// A link HDF5 cannot follow (damaged metadata) counts as absent: readers then report the
  /// object missing, naming it.
  public func exists(_ objectPath: String) -> Bool {
    var prefix = ""
    for component in objectPath.split(separator: "/") {
      prefix += "/" + component
      guard (try? check(H5Lexists(handle, prefix, gt_H5P_DEFAULT()), "cannot look up", prefix)) ?? 0 > 0 else {
        return false
      }
    }
    return true
  }

  /// Creates a group and any missing parents; an existing group is left as it is.
  public func createGroup(_ objectPath: String) throws(HDF5Error) {
    if exists(objectPath) { return }
    let properties = try linkCreationProperties(objectPath)
    _ = try handle(
      H5Gcreate2(handle, objectPath, properties.id, gt_H5P_DEFAULT(), gt_H5P_DEFAULT()), closedBy: H5Gclose,
      "cannot create group", objectPath)
  }

  /// The names of the direct children of a group, in name order.
  public func children(of groupPath: String) throws(HDF5Error) -> [String] {
    let group = try handle(H5Gopen2(handle, groupPath, gt_H5P_DEFAULT()), closedBy: H5Gclose, "no group", groupPath)
    /// What the C callback appends to (passed to it as an opaque pointer).
    final class Names { var list: [String] = [] }
    let names = Names()
    var index: hsize_t = 0
    try check(
      H5Literate(
        group.id, H5_INDEX_NAME, H5_ITER_INC, &index,
        { _, name, _, context in
          guard let name, let context else { return 0 }
          Unmanaged<Names>.fromOpaque(context).takeUnretainedValue().list.append(String(cString: name))
          return 0
        }, Unmanaged.passUnretained(names).toOpaque()), "cannot list group", groupPath)
    return withExtendedLifetime(names) { names.list }
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
    let space = try simpleSpace(dimensions, for: objectPath)
    let linkProperties = try linkCreationProperties(objectPath)
    let createProperties = try propertyList(gt_H5P_DATASET_CREATE(), for: objectPath)
    if (compress || checksum) && !values.isEmpty && !shape.isEmpty {
      try check(
        H5Pset_chunk(createProperties.id, Int32(shape.count), dimensions), "cannot set the chunk shape of", objectPath)
      if compress { try check(H5Pset_deflate(createProperties.id, 4), "cannot compress", objectPath) }
      if checksum { try check(H5Pset_fletcher32(createProperties.id), "cannot checksum", objectPath) }
    }
    let dataset = try handle(
      H5Dcreate2(
        handle, objectPath, Element.hdf5Kind.fileType, space.id, linkProperties.id, createProperties.id,
        gt_H5P_DEFAULT()), closedBy: H5Dclose, "cannot create dataset", objectPath)
    try check(
      H5Dwrite(dataset.id, Element.hdf5Kind.memoryType, gt_H5S_ALL(), gt_H5S_ALL(), gt_H5P_DEFAULT(), values),
      "cannot write dataset", objectPath)
  }

  /// Reads a whole dataset, converting to `Element`.
  public func read<Element: HDF5Element>(
    _: Element.Type, from objectPath: String
  ) throws(HDF5Error) -> (values: [Element], shape: [Int]) {
    let dataset = try openDataset(objectPath)
    let shape = try datasetShape(dataset, objectPath)
    var values = [Element](repeating: Element.hdf5Zero, count: shape.reduce(1, *))
    if values.isEmpty { return (values, shape) }
    try check(
      H5Dread(dataset.id, Element.hdf5Kind.memoryType, gt_H5S_ALL(), gt_H5S_ALL(), gt_H5P_DEFAULT(), &values),
      "cannot read dataset (expected numbers convertible to \(Element.hdf5Kind))", objectPath)
    return (values, shape)
  }

  // MARK: Attributes

  /// Sets a string attribute on the object at `objectPath` (replacing one of the same name).
  public func setAttribute(_ name: String, _ value: String, on objectPath: String = "/") throws(HDF5Error) {
    let type = try stringType(size: max(1, value.utf8.count), for: objectPath)
    try writeAttribute(name, on: objectPath, fileType: type.id, memoryType: type.id, bytes: Array(value.utf8) + [0])
  }

  /// Sets a scalar numeric attribute on the object at `objectPath`.
  public func setAttribute<Element: HDF5Element>(
    _ name: String, _ value: Element, on objectPath: String = "/"
  ) throws(HDF5Error) {
    try writeAttribute(
      name, on: objectPath, fileType: Element.hdf5Kind.fileType, memoryType: Element.hdf5Kind.memoryType,
      bytes: withUnsafeBytes(of: value) { Array($0) })
  }

  /// Reads a string attribute (fixed- or variable-length).
  public func stringAttribute(_ name: String, on objectPath: String = "/") throws(HDF5Error) -> String {
    let attribute = try openAttribute(name, on: objectPath)
    let type = try handle(
      H5Aget_type(attribute.id), closedBy: H5Tclose, "cannot read the type of attribute '\(name)' of", objectPath)
    guard
      try checkClass(H5Tget_class(type.id), "cannot read the type of attribute '\(name)' of", objectPath)
        == H5T_STRING
    else {
      throw HDF5Error(operation: "attribute '\(name)' is not a string", file: path, objectPath: objectPath, details: [])
    }
    if try check(H5Tis_variable_str(type.id), "cannot read the type of attribute '\(name)' of", objectPath) > 0 {
      let memoryType = try stringType(size: nil, for: objectPath)
      // HDF5 does not convert between character sets: read in the one stored.
      try check(
        H5Tset_cset(memoryType.id, try storedCharacterSet(type, objectPath)), "cannot read attribute '\(name)' of",
        objectPath)
      var pointer: UnsafeMutablePointer<CChar>? = nil
      try check(H5Aread(attribute.id, memoryType.id, &pointer), "cannot read attribute '\(name)' of", objectPath)
      defer { if let pointer { free(pointer) } }
      return pointer.map { String(cString: $0) } ?? ""
    }
    let size = try checkSize(H5Tget_size(type.id), "cannot read the size of attribute '\(name)' of", objectPath)
    var bytes = [UInt8](repeating: 0, count: size + 1)
    try check(H5Aread(attribute.id, type.id, &bytes), "cannot read attribute '\(name)' of", objectPath)
    let end = bytes.firstIndex(of: 0) ?? size
    return String(decoding: bytes[..<end], as: UTF8.self)
  }

  /// Reads a scalar numeric attribute, converting to `Element`.
  public func attribute<Element: HDF5Element>(
    _ name: String, as _: Element.Type, on objectPath: String = "/"
  ) throws(HDF5Error) -> Element {
    let attribute = try openAttribute(name, on: objectPath)
    var value = Element.hdf5Zero
    try check(
      H5Aread(attribute.id, Element.hdf5Kind.memoryType, &value),
      "cannot read attribute '\(name)' as \(Element.hdf5Kind) on", objectPath)
    return value
  }

  /// Whether the object at `objectPath` has an attribute called `name` (false when HDF5 cannot
  /// tell: damaged metadata reads as a missing attribute, which readers then name).
  public func hasAttribute(_ name: String, on objectPath: String = "/") -> Bool {
    guard objectPath == "/" || exists(objectPath) else { return false }
    let exists = try? check(
      H5Aexists_by_name(handle, objectPath, name, gt_H5P_DEFAULT()), "cannot look up attribute '\(name)' of",
      objectPath)
    return exists ?? 0 > 0
  }

  // MARK: Internals

  private func openAttribute(_ name: String, on objectPath: String) throws(HDF5Error) -> HDF5Handle {
    guard hasAttribute(name, on: objectPath) else {
      throw HDF5Error(operation: "missing attribute '\(name)' on", file: path, objectPath: objectPath, details: [])
    }
    return try handle(
      H5Aopen_by_name(handle, objectPath, name, gt_H5P_DEFAULT(), gt_H5P_DEFAULT()), closedBy: H5Aclose,
      "cannot open attribute '\(name)' of", objectPath)
  }

  /// Writes a scalar attribute of `fileType` from `bytes` (one value of `memoryType`).
  private func writeAttribute(
    _ name: String, on objectPath: String, fileType: hid_t, memoryType: hid_t, bytes: [UInt8]
  ) throws(HDF5Error) {
    let operation = "cannot replace attribute '\(name)' on"
    if try check(H5Aexists_by_name(handle, objectPath, name, gt_H5P_DEFAULT()), operation, objectPath) > 0 {
      try check(H5Adelete_by_name(handle, objectPath, name, gt_H5P_DEFAULT()), operation, objectPath)
    }
    let space = try handle(H5Screate(H5S_SCALAR), closedBy: H5Sclose, "cannot create a dataspace for", objectPath)
    let attribute = try handle(
      H5Acreate_by_name(
        handle, objectPath, name, fileType, space.id, gt_H5P_DEFAULT(), gt_H5P_DEFAULT(), gt_H5P_DEFAULT()),
      closedBy: H5Aclose, "cannot create attribute '\(name)' on", objectPath)
    try check(H5Awrite(attribute.id, memoryType, bytes), "cannot write attribute '\(name)' on", objectPath)
  }

  /// Removes the link `objectPath` (a dataset or group) from the file.
  public func remove(_ objectPath: String) throws(HDF5Error) {
    guard exists(objectPath) else {
      throw HDF5Error(operation: "nothing to remove at", file: path, objectPath: objectPath, details: [])
    }
    try check(H5Ldelete(handle, objectPath, gt_H5P_DEFAULT()), "cannot remove", objectPath)
  }

  /// Opens the dataset at `objectPath`, or throws "missing dataset".
  func openDataset(_ objectPath: String) throws(HDF5Error) -> HDF5Handle {
    guard exists(objectPath) else {
      throw HDF5Error(operation: "missing dataset", file: path, objectPath: objectPath, details: [])
    }
    return try handle(H5Dopen2(handle, objectPath, gt_H5P_DEFAULT()), closedBy: H5Dclose, "not a dataset", objectPath)
  }

  func datasetShape(_ dataset: HDF5Handle, _ objectPath: String) throws(HDF5Error) -> [Int] {
    let space = try space(of: dataset, objectPath)
    let rank = Int(try check(H5Sget_simple_extent_ndims(space.id), "cannot read the shape of", objectPath))
    var dimensions = [hsize_t](repeating: 0, count: rank)
    try check(H5Sget_simple_extent_dims(space.id, &dimensions, nil), "cannot read the shape of", objectPath)
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

  /// Link creation that makes the missing parent groups.
  func linkCreationProperties(_ objectPath: String) throws(HDF5Error) -> HDF5Handle {
    let properties = try propertyList(gt_H5P_LINK_CREATE(), for: objectPath)
    try check(H5Pset_create_intermediate_group(properties.id, 1), "cannot create the parents of", objectPath)
    return properties
  }

  func error(_ operation: String, _ objectPath: String) -> HDF5Error {
    Self.error(operation, file: path, object: objectPath)
  }

  static func error(_ operation: String, file: String, object: String) -> HDF5Error {
    HDF5Error(operation: operation, file: file, objectPath: object, details: HDF5Library.errorStack())
  }
}
