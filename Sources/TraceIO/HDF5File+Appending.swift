internal import CHDF5

/// Datasets that grow along their first axis (the step axis of a trace), variable-length
/// string datasets, and single-writer/multiple-reader (SWMR) mode.
extension HDF5File {
  /// Creates an empty dataset [0] (`columns` nil) or [0, columns], unlimited along the first
  /// axis, stored in checksummed chunks of `chunkRows` rows.
  public func createAppendable<Element: HDF5Element>(
    _ element: Element.Type, at objectPath: String, columns: Int? = nil, chunkRows: Int = 1024
  ) throws(HDF5Error) {
    try createAppendable(element, at: objectPath, rowShape: columns.map { [$0] } ?? [], chunkRows: chunkRows)
  }

  /// Creates an empty dataset [0, rowShape…] of any rank (a histogram per layer and step is
  /// [0, L, bins]), unlimited along the first axis, in checksummed chunks of `chunkRows` rows,
  /// deflated when `compressed` (counts that are mostly 0).
  public func createAppendable<Element: HDF5Element>(
    _: Element.Type, at objectPath: String, rowShape: [Int], chunkRows: Int = 1024, compressed: Bool = false
  ) throws(HDF5Error) {
    let current = [hsize_t(0)] + rowShape.map { hsize_t($0) }
    let maximum = [gt_H5S_UNLIMITED()] + rowShape.map { hsize_t($0) }
    let chunk = [hsize_t(chunkRows)] + rowShape.map { hsize_t(max($0, 1)) }
    let space = try simpleSpace(current, maximum: maximum, for: objectPath)
    let create = try propertyList(gt_H5P_DATASET_CREATE(), for: objectPath)
    try check(H5Pset_chunk(create.id, Int32(chunk.count), chunk), "cannot set the chunk shape of", objectPath)
    // A checksum per chunk: a damaged file reports "data error detected by Fletcher32
    // checksum" instead of handing analysis silently wrong numbers.
    if compressed { try check(H5Pset_deflate(create.id, 4), "cannot compress", objectPath) }
    try check(H5Pset_fletcher32(create.id), "cannot checksum", objectPath)
    let link = try linkCreationProperties(objectPath)
    _ = try handle(
      H5Dcreate2(handle, objectPath, Element.hdf5Kind.fileType, space.id, link.id, create.id, gt_H5P_DEFAULT()),
      closedBy: H5Dclose, "cannot create dataset", objectPath)
  }

  /// Appends `rows` rows to an appendable dataset of any rank ([N], [N, C], [N, C, K], …):
  /// `values` row-major, one row the product of the trailing dimensions.
  public func append<Element: HDF5Element>(_ values: [Element], rows: Int, to objectPath: String) throws(HDF5Error) {
    guard rows > 0 else { return }
    let dataset = try openDataset(objectPath)
    let shape = try datasetShape(dataset, objectPath)
    let rowSize = shape.dropFirst().reduce(1, *)
    guard values.count == rows * rowSize else {
      throw HDF5Error(
        operation: "append of \(values.count) values as \(rows) rows of \(rowSize)", file: path,
        objectPath: objectPath, details: [])
    }
    var extended = shape.map { hsize_t($0) }
    extended[0] += hsize_t(rows)
    try check(H5Dset_extent(dataset.id, extended), "cannot extend", objectPath)
    let fileSpace = try space(of: dataset, objectPath)
    let count = [hsize_t(rows)] + shape.dropFirst().map { hsize_t($0) }
    try selectRows(fileSpace, start: shape[0], count: count, objectPath)
    let memorySpace = try simpleSpace(count, for: objectPath)
    try check(
      H5Dwrite(dataset.id, Element.hdf5Kind.memoryType, memorySpace.id, fileSpace.id, gt_H5P_DEFAULT(), values),
      "cannot append to", objectPath)
  }

  /// Selects rows `start ..< start + count[0]` (whole rows: `count` holds the trailing extents).
  func selectRows(_ space: HDF5Handle, start: Int, count: [hsize_t], _ objectPath: String) throws(HDF5Error) {
    let offset = [hsize_t(start)] + Array(repeating: 0, count: count.count - 1)
    try check(
      H5Sselect_hyperslab(space.id, H5S_SELECT_SET, offset, nil, count, nil),
      "cannot select rows \(start)..<\(start + Int(count[0])) of", objectPath)
  }

  /// Writes a one-dimensional dataset of UTF-8 strings: variable-length, or (`fixedLength`)
  /// null-terminated in as many bytes as the longest, which keeps them out of HDF5's global heap
  /// (a damaged global heap can make HDF5 1.10's reader loop forever; fixed-length names are
  /// read from the dataset's own bytes).
  public func writeStrings(_ strings: [String], to objectPath: String, fixedLength: Bool = false) throws(HDF5Error) {
    let width = (strings.map(\.utf8.count).max() ?? 0) + 1
    let type = try stringType(size: fixedLength ? width : nil, for: objectPath)
    let space = try simpleSpace([hsize_t(strings.count)], for: objectPath)
    let link = try linkCreationProperties(objectPath)
    let dataset = try handle(
      H5Dcreate2(handle, objectPath, type.id, space.id, link.id, gt_H5P_DEFAULT(), gt_H5P_DEFAULT()),
      closedBy: H5Dclose, "cannot create dataset", objectPath)
    if fixedLength {
      var bytes = [UInt8](repeating: 0, count: width * strings.count)
      for (i, string) in strings.enumerated() {
        bytes.replaceSubrange((i * width)..<(i * width + string.utf8.count), with: string.utf8)
      }
      if !strings.isEmpty {
        try check(
          H5Dwrite(dataset.id, type.id, gt_H5S_ALL(), gt_H5S_ALL(), gt_H5P_DEFAULT(), bytes),
          "cannot write strings to", objectPath)
      }
      return
    }
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
    if !strings.isEmpty {
      try check(
        H5Dwrite(dataset.id, type.id, gt_H5S_ALL(), gt_H5S_ALL(), gt_H5P_DEFAULT(), &pointers),
        "cannot write strings to", objectPath)
    }
  }

  /// Reads a one-dimensional string dataset (variable- or fixed-length).
  public func readStrings(from objectPath: String) throws(HDF5Error) -> [String] {
    let dataset = try openDataset(objectPath)
    let shape = try datasetShape(dataset, objectPath)
    guard shape.count == 1 else {
      throw HDF5Error(
        operation: "expected a 1-D string dataset, found shape \(shape)", file: path, objectPath: objectPath,
        details: [])
    }
    let fileType = try type(of: dataset, objectPath)
    guard try checkClass(H5Tget_class(fileType.id), "cannot read the element type of", objectPath) == H5T_STRING else {
      throw HDF5Error(operation: "expected strings", file: path, objectPath: objectPath, details: [])
    }
    let count = shape[0]
    if count == 0 { return [] }
    if try check(H5Tis_variable_str(fileType.id), "cannot read the element type of", objectPath) > 0 {
      let memoryType = try stringType(size: nil, for: objectPath)
      // HDF5 does not convert between character sets: read in the one stored.
      try check(
        H5Tset_cset(memoryType.id, try storedCharacterSet(fileType, objectPath)), "cannot read strings from", objectPath
      )
      var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
      defer { pointers.forEach { free($0) } }
      try check(
        H5Dread(dataset.id, memoryType.id, gt_H5S_ALL(), gt_H5S_ALL(), gt_H5P_DEFAULT(), &pointers),
        "cannot read strings from", objectPath)
      return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }
    let size = try checkSize(H5Tget_size(fileType.id), "cannot read the string size of", objectPath)
    var bytes = [UInt8](repeating: 0, count: size * count)
    try check(
      H5Dread(dataset.id, fileType.id, gt_H5S_ALL(), gt_H5S_ALL(), gt_H5P_DEFAULT(), &bytes),
      "cannot read strings from", objectPath)
    return (0..<count).map { i in
      let slice = bytes[(i * size)..<((i + 1) * size)]
      return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
    }
  }

  /// Switches to single-writer/multiple-reader mode: from now on readers may open the file
  /// while it is written, and it stays readable if the writer dies. No new objects or
  /// attributes can be created after this.
  public func startSingleWriterMultipleReader() throws(HDF5Error) {
    try check(H5Fstart_swmr_write(handle), "cannot start SWMR writing", "/")
  }

  /// Writes everything buffered by HDF5 to the file.
  public func flush() throws(HDF5Error) {
    try check(H5Fflush(handle, H5F_SCOPE_GLOBAL), "cannot flush", "/")
  }

  /// Rows `start ..< start + count` of a dataset ([N] or [N, C]) as a flat row-major array:
  /// what lets analysis stream a long trace in bounded memory.
  public func readRows<Element: HDF5Element>(
    _: Element.Type, from objectPath: String, start: Int, count: Int
  ) throws(HDF5Error) -> [Element] {
    let dataset = try openDataset(objectPath)
    let shape = try datasetShape(dataset, objectPath)
    guard start >= 0, count >= 0, start + count <= (shape.first ?? 0) else {
      throw HDF5Error(
        operation: "rows \(start)..<\(start + count) outside \(shape)", file: path, objectPath: objectPath, details: [])
    }
    let extent = [hsize_t(count)] + shape.dropFirst().map { hsize_t($0) }
    var values = [Element](repeating: Element.hdf5Zero, count: count * shape.dropFirst().reduce(1, *))
    if count == 0 { return values }
    let fileSpace = try space(of: dataset, objectPath)
    try selectRows(fileSpace, start: start, count: extent, objectPath)
    let memorySpace = try simpleSpace(extent, for: objectPath)
    try check(
      H5Dread(dataset.id, Element.hdf5Kind.memoryType, memorySpace.id, fileSpace.id, gt_H5P_DEFAULT(), &values),
      "cannot read rows of", objectPath)
    return values
  }

  /// Whether the dataset at `objectPath` stores 32-bit floats (so a value read as Double is
  /// best printed as the Float it was).
  public func storesSinglePrecision(_ objectPath: String) throws(HDF5Error) -> Bool {
    let type = try type(of: try openDataset(objectPath), objectPath)
    let typeClass = try checkClass(H5Tget_class(type.id), "cannot read the element type of", objectPath)
    let size = try checkSize(H5Tget_size(type.id), "cannot read the element size of", objectPath)
    return typeClass == H5T_FLOAT && size == 4
  }

  /// The shape of the dataset at `objectPath` (refreshed first for SWMR readers).
  public func shape(of objectPath: String) throws(HDF5Error) -> [Int] {
    let dataset = try openDataset(objectPath)
    // Only a file opened for SWMR reading can be refreshed; any other is already current.
    _ = try? check(H5Drefresh(dataset.id), "cannot refresh", objectPath)
    return try datasetShape(dataset, objectPath)
  }
}

#if canImport(Glibc)
  import Glibc
#endif
