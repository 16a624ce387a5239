// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "kk",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kk", targets: ["kk"]),
        .library(name: "OCI", targets: ["OCI"]),
        .library(name: "Blobstore", targets: ["Blobstore"]),
        .library(name: "Artifact", targets: ["Artifact"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // System libraries, reached through pkg-config and small typed C shims.
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        // Whole-buffer deflate and crc32, 2-3x zlib's speed at the same ratio: on 2 cores zlib
        // cannot deflate the binaries of an export within issue 5's time (bench/RESULTS.md).
        // zlib stays for streaming (the serial gzip members, inflate).
        .systemLibrary(
            name: "CLibdeflate", pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]),
        // Header-only shims for file I/O calls Glibc's Swift module hides (sync_file_range).
        .systemLibrary(name: "CFileIO"),

        // OCI vocabulary, hashing and the registry v2 client.
        .target(
            name: "OCI",
            dependencies: [
                "CCurl", "CCrypto",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // An OCI image layout on disk: verified ingest, index, verify, GC.
        .target(name: "Blobstore", dependencies: ["OCI", "CFileIO"]),
        // Manifest model, catalog, export, pack/unpack, push, create manifest.
        .target(
            name: "Artifact",
            dependencies: [
                "OCI", "Blobstore", "CArchive", "CZlib", "CLibdeflate",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Commands only: parse flags, call Artifact, print.
        .executableTarget(
            name: "kk",
            dependencies: [
                "Artifact", "OCI", "Blobstore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Shared by the test targets: registries, fixtures, image generator.
        .target(name: "TestSupport", dependencies: ["OCI"], path: "Tests/TestSupport"),
        .testTarget(name: "OCITests", dependencies: ["OCI", "TestSupport"]),
        .testTarget(name: "BlobstoreTests", dependencies: ["Blobstore", "OCI", "TestSupport"]),
        .testTarget(
            name: "ArtifactTests", dependencies: ["Artifact", "Blobstore", "OCI", "TestSupport"]),
        .testTarget(name: "kkTests", dependencies: ["TestSupport", "OCI"]),
    ]
)
