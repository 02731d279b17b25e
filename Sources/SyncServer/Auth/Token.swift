import Crypto
import Foundation

/// Bearer tokens: 256 random bits shown once, stored only as their SHA-256.
public enum Token {
    /// Makes a new token: `ss_` and 64 hexadecimal digits.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let words = (0..<4).map { _ in generator.next() as UInt64 }
        return "ss_"
            + words.map { word in
                let digits = String(word, radix: 16)
                return String(repeating: "0", count: 16 - digits.count) + digits
            }.joined()
    }

    /// The SHA-256 of a token, which is all the store keeps.
    public static func hash(_ token: String) -> Data {
        Data(SHA256.hash(data: Data(token.utf8)))
    }
}
