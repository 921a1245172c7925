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
    var shape = try datasetShape(dataset, objectPath)
    if shape[0] > rows {
      var kept = shape.map { hsize_t($0) }
      kept[0] = hsize_t(rows)
      try check(H5Dset_extent(dataset.id, kept), "cannot cut to \(rows) rows", objectPath)
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
    let unverified = try propertyList(gt_H5P_DATASET_XFER(), for: objectPath)
    try check(H5Pset_edc_check(unverified.id, H5Z_DISABLE_EDC), "cannot switch checksums off for", objectPath)
    let kept = try rawRows(
      dataset, objectPath, shape: shape, start: lastChunk, count: rows - lastChunk, properties: unverified.id)
    // The write reads the chunk first (it is only partly covered), so it skips verification too.
    try rawRows(
      dataset, objectPath, shape: shape, start: lastChunk, count: rows - lastChunk, properties: unverified.id,
      writing: kept)
    try rawRows(dataset, objectPath, shape: shape, start: 0, count: rows)
    return true
  }

  /// Rows along the first axis per chunk.
  func chunkRows(_ dataset: HDF5Handle, _ objectPath: String) throws(HDF5Error) -> Int {
    let create = try handle(
      H5Dget_create_plist(dataset.id), closedBy: H5Pclose, "cannot read the storage properties of", objectPath)
    var chunk = [hsize_t](repeating: 0, count: 2)
    guard try check(H5Pget_chunk(create.id, 2, &chunk), "cannot read the chunk shape of", objectPath) >= 1,
      chunk[0] > 0
    else {
      throw HDF5Error(operation: "not chunked", file: path, objectPath: objectPath, details: [])
    }
    return Int(chunk[0])
  }

  /// Reads rows `start ..< start + count` of an open [N] or [N, C] dataset of shape `shape` as
  /// the bytes the file stores (its own element type, so nothing is converted), or writes
  /// `bytes` there; returns what was read or written.
  @discardableResult
  func rawRows(
    _ dataset: HDF5Handle, _ objectPath: String, shape: [Int], start: Int, count: Int,
    properties: hid_t = gt_H5P_DEFAULT(), writing bytes: [UInt8]? = nil
  ) throws(HDF5Error) -> [UInt8] {
    let type = try type(of: dataset, objectPath)
    let size = try checkSize(H5Tget_size(type.id), "cannot read the element size of", objectPath)
    let extent = [hsize_t(count)] + shape.dropFirst().map { hsize_t($0) }
    var buffer = bytes ?? [UInt8](repeating: 0, count: count * shape.dropFirst().reduce(1, *) * size)
    precondition(buffer.count == count * shape.dropFirst().reduce(1, *) * size, "rawRows: \(buffer.count) bytes")
    if count == 0 { return buffer }
    let fileSpace = try space(of: dataset, objectPath)
    try selectRows(fileSpace, start: start, count: extent, objectPath)
    let memorySpace = try simpleSpace(extent, for: objectPath)
    if bytes == nil {
      try check(
        H5Dread(dataset.id, type.id, memorySpace.id, fileSpace.id, properties, &buffer), "cannot read rows of",
        objectPath)
    } else {
      try check(
        H5Dwrite(dataset.id, type.id, memorySpace.id, fileSpace.id, properties, buffer), "cannot write rows of",
        objectPath)
    }
    return buffer
  }
}
