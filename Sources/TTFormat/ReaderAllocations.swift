// Instrumentation of the reader's file-sized allocations, for the hostile-input tests.

/// Records the largest single buffer the reader allocates with a size taken from a file
/// (header bytes, blob bytes, inflate output, decoded floats, metadata arrays, directory
/// entries, the parameter layout a config asks for). Every such allocation in the reader
/// calls `note` with its byte count just before allocating; all other reader allocations
/// have a constant size or are copies of an already noted buffer. Off (one task-local
/// read) unless a test installs a meter with `$meter.withValue`.
final class ReaderAllocationMeter: @unchecked Sendable {
    private(set) var largest = 0
    private(set) var count = 0

    @TaskLocal static var current: ReaderAllocationMeter?

    /// Notes an allocation of `bytes` bytes about to be made.
    static func note(_ bytes: Int) {
        guard let m = current else { return }
        m.largest = max(m.largest, bytes)
        m.count += 1
    }
}
