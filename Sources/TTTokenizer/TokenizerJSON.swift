import TTCore
/// The JSON values the tokenizer file loaders read, as a strict JSON parser gives them.
///
/// The loaders do not parse JSON themselves: the caller parses the file with its one JSON
/// parser (in tt-ckpt, `HeaderJSON.parse`, which rejects duplicate keys, invalid UTF-8 and
/// lone surrogates, bounds nesting and array lengths, and keeps numbers as written) and
/// hands the root value over. A parser's value type conforms with a few lines:
///
///     extension HeaderJSON: TokenizerJSONValue {
///         public var objectMembers: [(String, HeaderJSON)]? { if case let .object(m) = self { return m }; return nil }
///         public var arrayItems: [HeaderJSON]? { if case let .array(a) = self { return a }; return nil }
///         public var stringValue: String? { ... }   // already there
///         public var numberText: String? { if case let .number(t) = self { return t }; return nil }
///         public var boolValue: Bool? { if case let .bool(b) = self { return b }; return nil }
///         public var isNull: Bool { self == .null }
///     }
///
/// Object keys must be compared as the parser returns them; the loaders compare token
/// strings by their UTF-8 bytes, never with String's canonical equivalence.
public protocol TokenizerJSONValue {
    /// An object's members in file order (keys unique), or nil for any other value.
    var objectMembers: [(String, Self)]? { get }
    /// An array's items, or nil for any other value.
    var arrayItems: [Self]? { get }
    var stringValue: String? { get }
    /// A number's text exactly as written (`12`, `-1`, `1.0e3`), or nil for any other value.
    var numberText: String? { get }
    var boolValue: Bool? { get }
    var isNull: Bool { get }
}

extension TokenizerJSONValue {
    /// The value of `key` in an object (nil if absent or not an object).
    subscript(member key: String) -> Self? {
        objectMembers?.first { $0.0 == key }?.1
    }

    /// A non-negative integer written with digits only that fits in Int, else nil.
    var nonNegativeInteger: Int? {
        guard let text = numberText, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }

    /// A short name of the value's JSON type, for messages.
    var typeName: String {
        if objectMembers != nil { return "an object" }
        if arrayItems != nil { return "an array" }
        if stringValue != nil { return "a string" }
        if numberText != nil { return "a number" }
        if boolValue != nil { return "a boolean" }
        return "null"
    }
}
