// AMQPPool: an amqp_pool_t that owns the C copies of strings and tables passed to rabbitmq-c.
//
// rabbitmq-c encodes arguments synchronously, so C copies only need to live for one call: the
// owner allocates into the pool, makes the call, then `recycle()`s (memory kept for reuse, no
// malloc per message). Not thread-safe: one pool per connection thread.

import CRabbitMQ

final class AMQPPool {
    let pointer: UnsafeMutablePointer<amqp_pool_t>

    init(pageSize: Int = 4096) {
        pointer = .allocate(capacity: 1)
        init_amqp_pool(pointer, pageSize)
    }

    deinit {
        empty_amqp_pool(pointer)
        pointer.deallocate()
    }

    /// Frees everything allocated so far, keeping the pages for reuse.
    func recycle() {
        recycle_amqp_pool(pointer)
    }

    /// A pool copy of `string` (not NUL-terminated, as amqp_bytes_t never is).
    func bytes(_ string: String) -> amqp_bytes_t {
        var copy = string
        return copy.withUTF8 { bytes(UnsafeRawBufferPointer($0)) }
    }

    func bytes(_ raw: UnsafeRawBufferPointer) -> amqp_bytes_t {
        if raw.isEmpty { return amqp_bytes_t(len: 0, bytes: nil) }
        var out = amqp_bytes_t()
        amqp_pool_alloc_bytes(pointer, raw.count, &out)
        guard let dst = out.bytes else { fatalError("amqp_pool_alloc_bytes: out of memory") }
        dst.copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        return out
    }

    func bytes(_ array: [UInt8]) -> amqp_bytes_t {
        array.withUnsafeBytes { bytes($0) }
    }

    /// Encodes `table` into pool memory (entries, keys, nested tables and arrays).
    func table(_ table: AMQPTable) -> amqp_table_t {
        if table.isEmpty { return amqp_table_t(num_entries: 0, entries: nil) }
        let raw = amqp_pool_alloc(pointer, MemoryLayout<amqp_table_entry_t>.stride * table.count)!
        let entries = raw.bindMemory(to: amqp_table_entry_t.self, capacity: table.count)
        // Sorted for a deterministic wire encoding.
        for (i, (key, value)) in table.sorted(by: { $0.key < $1.key }).enumerated() {
            (entries + i).initialize(to: amqp_table_entry_t(key: bytes(key), value: field(value)))
        }
        return amqp_table_t(num_entries: Int32(table.count), entries: entries)
    }

    func field(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var f = amqp_field_value_t()
        switch value {
        case .bool(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_BOOLEAN.rawValue)
            f.value.boolean = v ? 1 : 0
        case .int8(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_I8.rawValue)
            f.value.i8 = v
        case .uint8(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_U8.rawValue)
            f.value.u8 = v
        case .int16(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_I16.rawValue)
            f.value.i16 = v
        case .uint16(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_U16.rawValue)
            f.value.u16 = v
        case .int32(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_I32.rawValue)
            f.value.i32 = v
        case .uint32(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_U32.rawValue)
            f.value.u32 = v
        case .int64(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
            f.value.i64 = v
        case .uint64(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_U64.rawValue)
            f.value.u64 = v
        case .float(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_F32.rawValue)
            f.value.f32 = v
        case .double(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_F64.rawValue)
            f.value.f64 = v
        case .decimal(let scale, let v):
            f.kind = UInt8(AMQP_FIELD_KIND_DECIMAL.rawValue)
            f.value.decimal = amqp_decimal_t(decimals: scale, value: v)
        case .string(let s):
            f.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
            f.value.bytes = bytes(s)
        case .bytes(let b):
            f.kind = UInt8(AMQP_FIELD_KIND_BYTES.rawValue)
            f.value.bytes = bytes(b)
        case .timestamp(let v):
            f.kind = UInt8(AMQP_FIELD_KIND_TIMESTAMP.rawValue)
            f.value.u64 = v
        case .table(let t):
            f.kind = UInt8(AMQP_FIELD_KIND_TABLE.rawValue)
            f.value.table = table(t)
        case .array(let items):
            f.kind = UInt8(AMQP_FIELD_KIND_ARRAY.rawValue)
            if items.isEmpty {
                f.value.array = amqp_array_t(num_entries: 0, entries: nil)
            } else {
                let raw = amqp_pool_alloc(pointer, MemoryLayout<amqp_field_value_t>.stride * items.count)!
                let entries = raw.bindMemory(to: amqp_field_value_t.self, capacity: items.count)
                for (i, item) in items.enumerated() { (entries + i).initialize(to: field(item)) }
                f.value.array = amqp_array_t(num_entries: Int32(items.count), entries: entries)
            }
        case .void:
            f.kind = UInt8(AMQP_FIELD_KIND_VOID.rawValue)
        }
        return f
    }
}

// MARK: - Decoding (copies out of library-owned memory)

extension amqp_bytes_t {
    /// A Swift copy of the bytes, as UTF-8 text (invalid sequences repaired).
    var string: String {
        guard len > 0, let bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: len), as: UTF8.self)
    }

    var array: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: bytes, count: len))
    }
}

extension AMQPFieldValue {
    /// Decodes a table owned by rabbitmq-c into Swift values (a deep copy).
    static func decode(table t: amqp_table_t) -> AMQPTable {
        var out: AMQPTable = [:]
        guard t.num_entries > 0, let entries = t.entries else { return out }
        out.reserveCapacity(Int(t.num_entries))
        for i in 0..<Int(t.num_entries) {
            let entry = entries[i]
            out[entry.key.string] = decode(field: entry.value)
        }
        return out
    }

    static func decode(field f: amqp_field_value_t) -> AMQPFieldValue {
        switch amqp_field_value_kind_t(UInt32(f.kind)) {
        case AMQP_FIELD_KIND_BOOLEAN: return .bool(f.value.boolean != 0)
        case AMQP_FIELD_KIND_I8: return .int8(f.value.i8)
        case AMQP_FIELD_KIND_U8: return .uint8(f.value.u8)
        case AMQP_FIELD_KIND_I16: return .int16(f.value.i16)
        case AMQP_FIELD_KIND_U16: return .uint16(f.value.u16)
        case AMQP_FIELD_KIND_I32: return .int32(f.value.i32)
        case AMQP_FIELD_KIND_U32: return .uint32(f.value.u32)
        case AMQP_FIELD_KIND_I64: return .int64(f.value.i64)
        case AMQP_FIELD_KIND_U64: return .uint64(f.value.u64)
        case AMQP_FIELD_KIND_F32: return .float(f.value.f32)
        case AMQP_FIELD_KIND_F64: return .double(f.value.f64)
        case AMQP_FIELD_KIND_DECIMAL: return .decimal(scale: f.value.decimal.decimals, value: f.value.decimal.value)
        case AMQP_FIELD_KIND_UTF8: return .string(f.value.bytes.string)
        case AMQP_FIELD_KIND_BYTES: return .bytes(f.value.bytes.array)
        case AMQP_FIELD_KIND_TIMESTAMP: return .timestamp(f.value.u64)
        case AMQP_FIELD_KIND_TABLE: return .table(decode(table: f.value.table))
        case AMQP_FIELD_KIND_ARRAY:
            let a = f.value.array
            guard a.num_entries > 0, let entries = a.entries else { return .array([]) }
            return .array((0..<Int(a.num_entries)).map { decode(field: entries[$0]) })
        default: return .void
        }
    }
}
