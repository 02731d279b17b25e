// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "schoolsync",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SyncCore", targets: ["SyncCore"]),
    ],
    targets: [
        // Pure sync engine: no I/O, no dependency but Foundation.
        .target(name: "SyncCore", swiftSettings: swiftSettings),
        .testTarget(
            name: "SyncCoreTests",
            dependencies: ["SyncCore"],
            swiftSettings: swiftSettings
        ),
    ]
)
