internal import CHDF5

/// Repair of the one chunk a killed appender can leave behind unverifiable.
///
/// Appending rows to a chunked dataset rewrites its last, partly filled chunk whole: HDF5 reads
/// the chunk, adds the new rows, computes a new Fletcher-32 checksum and writes chunk and checksum
/// back in place. A SIGKILL inside that write leaves the chunk torn: the kernel copies a write
/// into the file page by page and stops between pages, so some pages hold the new image and some
/// the old. The rows that were in the chunk before are the same bytes in both images, so they
/// survive; only the new rows (beyond the extent the last completed flush recorded) and the
/// checksum are mixed. Re-reading the kept rows without verification and writing them back gives
/// the chunk a checksum again. Any other chunk that fails its checksum is damage, not a torn
/// append, and is reported, never rewritten.
extension HDF5File {
  /// Cuts an appendable dataset to its first `rows` rows and, when the chunk holding the last of
  /// them fails its checksum while every chunk before it verifies, rewrites that chunk from its
  /// unverified bytes. Returns whether a chunk was rewritten.
  /// - Throws: `HDF5Error` naming the dataset when a chunk before the last fails its checksum.
  public func repairTornLastChunk(_ objectPath: String, keepingRows rows: Int) throws(HDF5Error) -> Bool {
    let dataset = try openDataset(objectPath)
    defer { H5Dclose(dataset) }
    var shape = try datasetShape(dataset, objectPath)
    if shape[0] > rows {
      var kept = shape.map { hsize_t($0) }
      kept[0] = hsize_t(rows)
      if H5Dset_extent(dataset, &kept) < 0 { throw error("cannot cut to \(rows) rows", objectPath) }
      shape[0] = rows
    }
    guard rows > 0, (try? rawRows(dataset, objectPath, shape: shape, start: 0, count: rows)) == nil else {
      return false
    }
    let chunkRows = try self.chunkRows(dataset, objectPath)
    let lastChunk = (rows - 1) / chunkRows * chunkRows
    do {
      try rawRows(dataset, objectPath, shape: shape, start: 0, count: lastChunk)
    } catch {
      throw HDF5Error(
        operation: "rows before \(lastChunk) fail their checksum (damage, not an interrupted append)", file: path,
        objectPath: objectPath, details: error.details)
    }
    let unverified = H5Pcreate(gt_H5P_DATASET_XFER())
    if unverified < 0 { throw error("cannot create transfer properties for", objectPath) }
    defer { H5Pclose(unverified) }
    if H5Pset_edc_check(unverified, H5Z_DISABLE_EDC) < 0 { throw error("cannot switch checksums off for", objectPath) }
    let kept = try rawRows(
      dataset, objectPath, shape: shape, start: lastChunk, count: rows - lastChunk, properties: unverified)
    // The write reads the chunk first (it is only partly covered), so it skips verification too.
    try rawRows(
      dataset, objectPath, shape: shape, start: lastChunk, count: rows - lastChunk, properties: unverified,
      writing: kept)
    try rawRows(dataset, objectPath, shape: shape, start: 0, count: rows)
    return true
  }

  /// Rows along the first axis per chunk.
  func chunkRows(_ dataset: hid_t, _ objectPath: String) throws(HDF5Error) -> Int {
    let create = H5Dget_create_plist(dataset)
    if create < 0 { throw error("cannot read the storage properties of", objectPath) }
    defer { H5Pclose(create) }
    var chunk = [hsize_t](repeating: 0, count: 2)
    guard H5Pget_chunk(create, 2, &chunk) >= 1, chunk[0] > 0 else {
      throw HDF5Error(operation: "not chunked", file: path, objectPath: objectPath, details: [])
    }
    return Int(chunk[0])
  }

  /// Reads rows `start ..< start + count` of an open [N] or [N, C] dataset of shape `shape` as
  /// the bytes the file stores (its own element type, so nothing is converted), or writes
  /// `bytes` there; returns what was read or written.
  @discardableResult
  func rawRows(
    _ dataset: hid_t, _ objectPath: String, shape: [Int], start: Int, count: Int,
    properties: hid_t = gt_H5P_DEFAULT(), writing bytes: [UInt8]? = nil
  ) throws(HDF5Error) -> [UInt8] {
    let type = H5Dget_type(dataset)
    if type < 0 { throw error("cannot read the element type of", objectPath) }
    defer { H5Tclose(type) }
    let columns = shape.count == 2 ? shape[1] : 1
    var buffer = bytes ?? [UInt8](repeating: 0, count: count * columns * H5Tget_size(type))
    precondition(buffer.count == count * columns * H5Tget_size(type), "rawRows: \(buffer.count) bytes")
    if count == 0 { return buffer }
    let fileSpace = H5Dget_space(dataset)
    if fileSpace < 0 { throw error("cannot read the shape of", objectPath) }
    defer { H5Sclose(fileSpace) }
    var offset: [hsize_t] = shape.count == 2 ? [hsize_t(start), 0] : [hsize_t(start)]
    var extent: [hsize_t] = shape.count == 2 ? [hsize_t(count), hsize_t(columns)] : [hsize_t(count)]
    if H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &offset, nil, &extent, nil) < 0 {
      throw error("cannot select rows \(start)..<\(start + count) of", objectPath)
    }
    let memorySpace = H5Screate_simple(Int32(extent.count), &extent, nil)
    if memorySpace < 0 { throw error("cannot describe rows of", objectPath) }
    defer { H5Sclose(memorySpace) }
    let status = buffer.withUnsafeMutableBytes { pointer in
      bytes == nil
        ? H5Dread(dataset, type, memorySpace, fileSpace, properties, pointer.baseAddress)
        : H5Dwrite(dataset, type, memorySpace, fileSpace, properties, pointer.baseAddress)
    }
    if status < 0 { throw error(bytes == nil ? "cannot read rows of" : "cannot write rows of", objectPath) }
    return buffer
  }
}
