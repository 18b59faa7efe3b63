// CPU per job per process for `sluice bench throughput`: utime + stime from /proc/<pid>/stat,
// sampled before and after a run, for the producer (this process), each worker child, the
// RabbitMQ server (beam.smp), the Postgres server (postmaster, its auxiliary processes and the
// backends of this run, known by their application_name) and redis-server. Servers are found as
// the process listening on their port, so private test servers on other ports are not counted.
// Limits: Linux only; 10 ms tick resolution (use enough jobs); the shared servers also serve
// whatever else runs on the machine, which `idle_cpu_ms_per_s` (sampled just before the run)
// shows.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CPU seconds used so far by processes, read from /proc.
enum ProcessCPU {
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// A /proc file read to its end (they report size 0, and Foundation's readers may stop at
    /// the first page).
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Fields after the command name in /proc/<pid>/stat (which may contain spaces and parens).
    private static func statFields(_ pid: Int32) -> [Substring]? {
        guard let text = read("/proc/\(pid)/stat"),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// utime + stime of `pid` in seconds, or nil when it is gone.
    static func seconds(_ pid: Int32) -> Double? {
        // After ")": state(3) ppid(4) … utime(14) stime(15): indices 11 and 12 here.
        guard let f = statFields(pid), f.count > 12, let u = Double(f[11]), let s = Double(f[12]) else { return nil }
        return (u + s) / ticksPerSecond
    }

    /// Voluntary and involuntary context switches of every thread of `pid`, from
    /// /proc/<pid>/task/*/status (a thread that exited takes its count with it), or nil when
    /// the process is gone. A voluntary switch is a wait (a hop: a socket, a lock, a sleep); an
    /// involuntary one is a thread preempted by another that wanted the core.
    static func switches(_ pid: Int32) -> (voluntary: Int, involuntary: Int)? {
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return nil }
        var total = (voluntary: 0, involuntary: 0)
        for thread in threads {
            guard let text = read("/proc/\(pid)/task/\(thread)/status") else { continue }
            for line in text.split(separator: "\n") {
                if line.hasPrefix("voluntary_ctxt_switches:") {
                    total.voluntary += Int(line.split(separator: "\t").last ?? "") ?? 0
                } else if line.hasPrefix("nonvoluntary_ctxt_switches:") {
                    total.involuntary += Int(line.split(separator: "\t").last ?? "") ?? 0
                }
            }
        }
        return total
    }

    static func parent(_ pid: Int32) -> Int32? {
        guard let f = statFields(pid), f.count > 1 else { return nil }
        return Int32(f[1])
    }

    static func allPIDs() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    static func commandLine(_ pid: Int32) -> String {
        guard let text = read("/proc/\(pid)/cmdline") else { return "" }
        return String(text.map { $0 == "\0" ? " " : $0 })
    }

    /// TCP sockets: (local port, remote port, state, inode) from /proc/net/tcp and tcp6.
    static func sockets() -> [(local: Int, remote: Int, listening: Bool, inode: String)] {
        var out: [(Int, Int, Bool, String)] = []
        func port(_ address: Substring) -> Int? {
            guard let colon = address.lastIndex(of: ":") else { return nil }
            return Int(address[address.index(after: colon)...], radix: 16)
        }
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = read(file) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                let f = line.split(separator: " ")
                guard f.count > 9, let local = port(f[1]), let remote = port(f[2]) else { continue }
                out.append((local, remote, f[3] == "0A", "socket:[\(f[9])]"))
            }
        }
        return out
    }

    /// The socket inodes (`socket:[n]`) a process holds open.
    static func socketInodes(_ pid: Int32) -> Set<String> {
        let dir = "/proc/\(pid)/fd"
        var out: Set<String> = []
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + fd), target.hasPrefix("socket:") {
                out.insert(target)
            }
        }
        return out
    }

    /// The process holding the listening TCP socket on `port` (IPv4 or IPv6), if any.
    static func listener(port: Int) -> Int32? {
        let inodes = Set(sockets().filter { $0.listening && $0.local == port }.map(\.inode))
        guard !inodes.isEmpty else { return nil }
        return allPIDs().first { !socketInodes($0).isDisjoint(with: inodes) }
    }

    /// Local ports of the connections `pids` hold to a server on `port`.
    static func clientPorts(of pids: [Int32], to port: Int) -> Set<Int> {
        var inodes: Set<String> = []
        for pid in pids { inodes.formUnion(socketInodes(pid)) }
        return Set(sockets().filter { !$0.listening && $0.remote == port && inodes.contains($0.inode) }.map(\.local))
    }

    /// CPU seconds of every process now.
    static func snapshot() -> [Int32: Double] {
        var out: [Int32: Double] = [:]
        for pid in allPIDs() { if let s = seconds(pid) { out[pid] = s } }
        return out
    }
}

/// The processes of one pipeline run, grouped as the bench reports them.
struct PipelineProcesses {
    var producer: Int32
    var workers: [Int32]
    var rabbitmq: [Int32]
    var postgres: [Int32]
    var redis: [Int32]

    /// Finds the servers by their listening ports; Postgres: the postmaster, its auxiliary
    /// processes (no client address in their title) and the backends serving this run's
    /// connections (their title names the client's port: `postgres: user db 127.0.0.1(port)`).
    static func find(producer: Int32, workers: [Int32], amqpPort: Int, postgresPort: Int, redisPort: Int) -> PipelineProcesses {
        var postgres: [Int32] = []
        if let postmaster = ProcessCPU.listener(port: postgresPort) {
            postgres.append(postmaster)
            let ours = ProcessCPU.clientPorts(of: [producer] + workers, to: postgresPort).map { "(\($0))" }
            for pid in ProcessCPU.allPIDs() where ProcessCPU.parent(pid) == postmaster {
                let title = ProcessCPU.commandLine(pid)
                if !title.contains("(") || ours.contains(where: { title.contains($0) }) { postgres.append(pid) }
            }
        }
        return PipelineProcesses(
            producer: producer, workers: workers,
            rabbitmq: ProcessCPU.listener(port: amqpPort).map { [$0] } ?? [],
            postgres: postgres,
            redis: ProcessCPU.listener(port: redisPort).map { [$0] } ?? [])
    }

    /// Each group's processes.
    var groups: [(name: String, pids: [Int32])] {
        [("producer", [producer]), ("worker", workers), ("rabbitmq", rabbitmq), ("postgres", postgres), ("redis", redis)]
    }

    /// Context switches of every process of the run now (see `ProcessCPU.switches`).
    func switches() -> [Int32: (voluntary: Int, involuntary: Int)] {
        var out: [Int32: (voluntary: Int, involuntary: Int)] = [:]
        for (_, pids) in groups { for pid in pids { out[pid] = ProcessCPU.switches(pid) } }
        return out
    }

    /// Voluntary and involuntary switches per job of each group between two `switches()`
    /// (a process gone at the end counts nothing), rounded to 0.1.
    func switchesPerJob(_ before: [Int32: (voluntary: Int, involuntary: Int)],
                        _ after: [Int32: (voluntary: Int, involuntary: Int)], jobs: Int) -> [String: [Double]] {
        var out: [String: [Double]] = [:]
        for (name, pids) in groups {
            var v = 0, i = 0
            for pid in pids {
                guard let a = after[pid] else { continue }
                let b = before[pid] ?? (0, 0)
                v += max(0, a.voluntary - b.voluntary)
                i += max(0, a.involuntary - b.involuntary)
            }
            out[name] = [v, i].map { (Double($0) / Double(max(jobs, 1)) * 10).rounded() / 10 }
        }
        return out
    }

    /// CPU seconds per group between two snapshots (a process absent from `before` started
    /// during the run: all of its CPU counts).
    func delta(_ before: [Int32: Double], _ after: [Int32: Double]) -> [String: Any] {
        func d(_ pids: [Int32]) -> Double {
            pids.reduce(0) { sum, pid in sum + max(0, (after[pid] ?? before[pid] ?? 0) - (before[pid] ?? 0)) }
        }
        let w = workers.map { d([$0]) }
        return ["producer": d([producer]), "workers": w, "workers_total": w.reduce(0, +),
                "rabbitmq": d(rabbitmq), "postgres": d(postgres), "redis": d(redis)]
    }
}

/// The CPU seconds of every process in a `delta` (each worker once: not `workers_total` too).
func totalSeconds(_ delta: [String: Any]) -> Double {
    delta.reduce(0.0) { sum, entry in
        if let s = entry.value as? Double { return entry.key == "workers_total" ? sum : sum + s }
        if let list = entry.value as? [Double] { return sum + list.reduce(0, +) }
        return sum
    }
}

/// µs of CPU per job from a `delta` in seconds, rounded to 0.1 µs; adds `total`.
func microsecondsPerJob(_ delta: [String: Any], jobs: Int) -> [String: Any] {
    func us(_ s: Double) -> Double { jobs > 0 ? (s * 1e6 / Double(jobs) * 10).rounded() / 10 : 0 }
    var out: [String: Any] = [:]
    for (k, v) in delta {
        if let s = v as? Double {
            out[k] = us(s)
        } else if let list = v as? [Double] {
            out[k] = list.map(us)
        }
    }
    out["total"] = us(totalSeconds(delta))
    return out
}
