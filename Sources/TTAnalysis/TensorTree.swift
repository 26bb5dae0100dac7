import TTCore
import TTFormat
import TTInterop

/// Tensor names grouped by their dotted prefixes (`transformer.h.0.attn.c_attn.weight` is
/// under `transformer`, `transformer.h`, `transformer.h.0`, ...), with the number of
/// tensors, parameters (elements) and bytes of every subtree: `inspect --tree`.
///
/// Children are in natural order: segments that are decimal numbers by value, before the
/// others, which are by their UTF-8 bytes; so `h.2` comes before `h.10`.
public struct TensorTree: Equatable, Sendable {
    /// The segment (the whole name for the root: "").
    public var name: String
    public var tensorCount: Int
    public var parameterCount: UInt64
    public var byteCount: UInt64
    /// The tensor whose name ends here (a leaf, or a name that is also a prefix).
    public var tensor: ModelTensor?
    public var children: [TensorTree]

    /// The tree of `tensors`.
    public init(_ tensors: [ModelTensor]) {
        self.init(name: "")
        for t in tensors { insert(t, path: t.name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)[...]) }
        sortChildren()
    }

    init(name: String) {
        self.name = name
        tensorCount = 0
        parameterCount = 0
        byteCount = 0
        tensor = nil
        children = []
    }

    private mutating func insert(_ t: ModelTensor, path: ArraySlice<String>) {
        tensorCount += 1
        parameterCount &+= t.elementCount
        byteCount &+= t.byteCount
        guard let first = path.first else {
            tensor = t
            return
        }
        if let i = children.firstIndex(where: { $0.name == first }) {
            children[i].insert(t, path: path.dropFirst())
        } else {
            var child = TensorTree(name: first)
            child.insert(t, path: path.dropFirst())
            children.append(child)
        }
    }

    private mutating func sortChildren() {
        children.sort { TensorTree.naturalOrder($0.name, $1.name) }
        for i in children.indices { children[i].sortChildren() }
    }

    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        let na = decimal(a), nb = decimal(b)
        switch (na, nb) {
        case let (x?, y?): return x != y ? x < y : Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
        }
    }

    private static func decimal(_ s: String) -> UInt64? {
        guard !s.isEmpty, s.utf8.count <= 18, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return UInt64(s)
    }

    /// The tree as JSON: {name, tensors, parameters, bytes, [dtype, shape], children}, to
    /// `depth` levels below this node (nil: all).
    public func json(depth: Int? = nil) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("name", .string(name)),
            ("tensors", .int(tensorCount)),
            ("parameters", .uint(parameterCount)),
            ("bytes", .uint(byteCount)),
        ]
        if let t = tensor {
            members.append(("dtype", .string(t.dtype)))
            members.append(("shape", .array(t.shape.map { .int($0) })))
        }
        if depth.map({ $0 > 0 }) ?? true {
            members.append(("children", .array(children.map { $0.json(depth: depth.map { $0 - 1 }) })))
        }
        return .object(members)
    }
}
