// PGResultHandle: owns one libpq PGresult and frees it with PQclear in deinit.
//
// Rows and cells keep a reference to it, so values are read straight from libpq's memory
// without being copied into Swift strings first. Internal: no PGresult leaves this module.

import CLibPQ

final class PGResultHandle: @unchecked Sendable {
    // @unchecked Sendable: libpq documents a PGresult as read-only after creation ("can be passed
    // around freely between threads"); this class only reads it and frees it once, in deinit.
    let pointer: OpaquePointer
    let rowCount: Int
    let columnCount: Int

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
        rowCount = Int(PQntuples(pointer))
        columnCount = Int(PQnfields(pointer))
    }

    deinit { PQclear(pointer) }

    func columnName(_ column: Int) -> String {
        PQfname(pointer, Int32(column)).map { String(cString: $0) } ?? "?column?"
    }

    func typeOID(_ column: Int) -> UInt32 { UInt32(PQftype(pointer, Int32(column))) }

    func isNull(row: Int, column: Int) -> Bool { PQgetisnull(pointer, Int32(row), Int32(column)) != 0 }

    /// The cell's text bytes (without the terminating NUL); valid while `self` lives.
    func bytes(row: Int, column: Int) -> UnsafeRawBufferPointer {
        let length = Int(PQgetlength(pointer, Int32(row), Int32(column)))
        guard let value = PQgetvalue(pointer, Int32(row), Int32(column)) else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(start: UnsafeRawPointer(value), count: length)
    }
}
