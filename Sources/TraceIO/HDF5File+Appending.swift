internal import CHDF5

/// Datasets that grow along their first axis (the step axis of a trace), variable-length
/// string datasets, and single-writer/multiple-reader (SWMR) mode.
extension HDF5File {
  /// Creates an empty dataset [0] (`columns` nil) or [0, columns], unlimited along the first
  /// axis, stored in checksummed chunks of `chunkRows` rows.
  public func createAppendable<Element: HDF5Element>(
    _: Element.Type, at objectPath: String, columns: Int? = nil, chunkRows: Int = 1024
  ) throws(HDF5Error) {
    let rank: Int32 = columns == nil ? 1 : 2
    var current: [hsize_t] = columns.map { [0, hsize_t($0)] } ?? [0]
    var maximum: [hsize_t] = columns.map { [gt_H5S_UNLIMITED(), hsize_t($0)] } ?? [gt_H5S_UNLIMITED()]
    var chunk: [hsize_t] = columns.map { [hsize_t(chunkRows), hsize_t(max($0, 1))] } ?? [hsize_t(chunkRows)]
    let space = H5Screate_simple(rank, &current, &maximum)
    if space < 0 { throw error("cannot create dataspace for", objectPath) }
    defer { H5Sclose(space) }
    let create = H5Pcreate(gt_H5P_DATASET_CREATE())
    defer { H5Pclose(create) }
    H5Pset_chunk(create, rank, &chunk)
    // A checksum per chunk: a damaged file reports "data error detected by Fletcher32
    // checksum" instead of handing analysis silently wrong numbers.
    H5Pset_fletcher32(create)
    let link = try linkCreationProperties(objectPath)
    defer { H5Pclose(link) }
    let dataset = H5Dcreate2(handle, objectPath, Element.hdf5Kind.fileType, space, link, create, gt_H5P_DEFAULT())
    if dataset < 0 { throw error("cannot create dataset", objectPath) }
    H5Dclose(dataset)
  }

  /// Appends `rows` rows (row-major, `values.count / rows` per row) to an appendable dataset.
  public func append<Element: HDF5Element>(_ values: [Element], rows: Int, to objectPath: String) throws(HDF5Error) {
    guard rows > 0 else { return }
    let dataset = try openDataset(objectPath)
    defer { H5Dclose(dataset) }
    let shape = try datasetShape(dataset, objectPath)
    let columns = shape.count == 2 ? shape[1] : 1
    guard values.count == rows * columns else {
      throw HDF5Error(
        operation: "append of \(values.count) values as \(rows) rows of \(columns)", file: path,
        objectPath: objectPath, details: [])
    }
    var newShape = shape.map { hsize_t($0) }
    newShape[0] += hsize_t(rows)
    if H5Dset_extent(dataset, &newShape) < 0 { throw error("cannot extend", objectPath) }
    let fileSpace = H5Dget_space(dataset)
    defer { H5Sclose(fileSpace) }
    var start: [hsize_t] = shape.count == 2 ? [hsize_t(shape[0]), 0] : [hsize_t(shape[0])]
    var count: [hsize_t] = shape.count == 2 ? [hsize_t(rows), hsize_t(columns)] : [hsize_t(rows)]
    H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
    let memorySpace = H5Screate_simple(Int32(count.count), &count, nil)
    defer { H5Sclose(memorySpace) }
    let status = values.withUnsafeBufferPointer {
      H5Dwrite(dataset, Element.hdf5Kind.memoryType, memorySpace, fileSpace, gt_H5P_DEFAULT(), $0.baseAddress)
    }
    if status < 0 { throw error("cannot append to", objectPath) }
  }

  /// Writes a one-dimensional dataset of variable-length UTF-8 strings.
  public func writeStrings(_ strings: [String], to objectPath: String) throws(HDF5Error) {
    let type = H5Tcopy(gt_H5T_C_S1())
    defer { H5Tclose(type) }
    H5Tset_size(type, gt_H5T_VARIABLE())
    H5Tset_cset(type, H5T_CSET_UTF8)
    var dimensions: [hsize_t] = [hsize_t(strings.count)]
    let space = H5Screate_simple(1, &dimensions, nil)
    defer { H5Sclose(space) }
    let link = try linkCreationProperties(objectPath)
    defer { H5Pclose(link) }
    let dataset = H5Dcreate2(handle, objectPath, type, space, link, gt_H5P_DEFAULT(), gt_H5P_DEFAULT())
    if dataset < 0 { throw error("cannot create dataset", objectPath) }
    defer { H5Dclose(dataset) }
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
    if !strings.isEmpty && H5Dwrite(dataset, type, gt_H5S_ALL(), gt_H5S_ALL(), gt_H5P_DEFAULT(), &pointers) < 0 {
      throw error("cannot write strings to", objectPath)
    }
  }

  /// Reads a one-dimensional string dataset (variable- or fixed-length).
  public func readStrings(from objectPath: String) throws(HDF5Error) -> [String] {
    let dataset = try openDataset(objectPath)
    defer { H5Dclose(dataset) }
    let shape = try datasetShape(dataset, objectPath)
    guard shape.count == 1 else {
      throw HDF5Error(
        operation: "expected a 1-D string dataset, found shape \(shape)", file: path, objectPath: objectPath,
        details: [])
    }
    let fileType = H5Dget_type(dataset)
    defer { H5Tclose(fileType) }
    guard H5Tget_class(fileType) == H5T_STRING else {
      throw HDF5Error(operation: "expected strings", file: path, objectPath: objectPath, details: [])
    }
    let count = shape[0]
    if count == 0 { return [] }
    if H5Tis_variable_str(fileType) > 0 {
      let memoryType = H5Tcopy(gt_H5T_C_S1())
      defer { H5Tclose(memoryType) }
      H5Tset_size(memoryType, gt_H5T_VARIABLE())
      H5Tset_cset(memoryType, H5Tget_cset(fileType))  // HDF5 does not convert between character sets
      var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
      if H5Dread(dataset, memoryType, gt_H5S_ALL(), gt_H5S_ALL(), gt_H5P_DEFAULT(), &pointers) < 0 {
        throw error("cannot read strings from", objectPath)
      }
      defer { pointers.forEach { free($0) } }
      return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }
    let size = H5Tget_size(fileType)
    var bytes = [UInt8](repeating: 0, count: size * count)
    if H5Dread(dataset, fileType, gt_H5S_ALL(), gt_H5S_ALL(), gt_H5P_DEFAULT(), &bytes) < 0 {
      throw error("cannot read strings from", objectPath)
    }
    return (0..<count).map { i in
      let slice = bytes[(i * size)..<((i + 1) * size)]
      return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
    }
  }

  /// Switches to single-writer/multiple-reader mode: from now on readers may open the file
  /// while it is written, and it stays readable if the writer dies. No new objects or
  /// attributes can be created after this.
  public func startSingleWriterMultipleReader() throws(HDF5Error) {
    if H5Fstart_swmr_write(handle) < 0 { throw error("cannot start SWMR writing", "/") }
  }

  /// Writes everything buffered by HDF5 to the file.
  public func flush() throws(HDF5Error) {
    if H5Fflush(handle, H5F_SCOPE_GLOBAL) < 0 { throw error("cannot flush", "/") }
  }

  /// Rows `start ..< start + count` of a dataset ([N] or [N, C]) as a flat row-major array:
  /// what lets analysis stream a long trace in bounded memory.
  public func readRows<Element: HDF5Element>(
    _: Element.Type, from objectPath: String, start: Int, count: Int
  ) throws(HDF5Error) -> [Element] {
    let dataset = try openDataset(objectPath)
    defer { H5Dclose(dataset) }
    let shape = try datasetShape(dataset, objectPath)
    guard start >= 0, count >= 0, start + count <= (shape.first ?? 0) else {
      throw HDF5Error(
        operation: "rows \(start)..<\(start + count) outside \(shape)", file: path, objectPath: objectPath, details: [])
    }
    let columns = shape.count == 2 ? shape[1] : 1
    var values = [Element](repeating: Element.hdf5Zero, count: count * columns)
    if count == 0 { return values }
    let fileSpace = H5Dget_space(dataset)
    defer { H5Sclose(fileSpace) }
    var offset: [hsize_t] = shape.count == 2 ? [hsize_t(start), 0] : [hsize_t(start)]
    var extent: [hsize_t] = shape.count == 2 ? [hsize_t(count), hsize_t(columns)] : [hsize_t(count)]
    H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &offset, nil, &extent, nil)
    let memorySpace = H5Screate_simple(Int32(extent.count), &extent, nil)
    defer { H5Sclose(memorySpace) }
    let status = values.withUnsafeMutableBufferPointer {
      H5Dread(dataset, Element.hdf5Kind.memoryType, memorySpace, fileSpace, gt_H5P_DEFAULT(), $0.baseAddress)
    }
    if status < 0 { throw error("cannot read rows of", objectPath) }
    return values
  }

  /// Whether the dataset at `objectPath` stores 32-bit floats (so a value read as Double is
  /// best printed as the Float it was).
  public func storesSinglePrecision(_ objectPath: String) throws(HDF5Error) -> Bool {
    let dataset = try openDataset(objectPath)
    defer { H5Dclose(dataset) }
    let type = H5Dget_type(dataset)
    defer { H5Tclose(type) }
    return H5Tget_class(type) == H5T_FLOAT && H5Tget_size(type) == 4
  }

  /// The shape of the dataset at `objectPath` (refreshed first for SWMR readers).
  public func shape(of objectPath: String) throws(HDF5Error) -> [Int] {
    let dataset = try openDataset(objectPath)
    defer { H5Dclose(dataset) }
    H5Drefresh(dataset)
    H5Eclear2(gt_H5E_DEFAULT())
    return try datasetShape(dataset, objectPath)
  }
}

#if canImport(Glibc)
  import Glibc
#endif
