using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

/// <summary>
/// The processor architectures whose libc and kernel constants and struct layouts this code was checked against.
/// The structs and constants in Interop/ are plain values, not read from headers at run time; the struct layout
/// tests compare each of them with clang's view of the C headers of every architecture listed here (compiled for
/// that target, not run). On any other architecture BpfSteer refuses to start instead of handing the kernel a
/// layout nobody checked.
/// </summary>
internal static class NativeAbi
{
    /// <summary>
    /// x64 and arm64: both LP64 and little-endian, with the generic Linux numbering of errno, socket options and
    /// ioctls. Of what BpfSteer uses, they differ only in <c>struct epoll_event</c> (see <see cref="EpollEventLayout"/>).
    /// </summary>
    public static IReadOnlyList<Architecture> CheckedArchitectures { get; } = [Architecture.X64, Architecture.Arm64];

    public static bool IsChecked(Architecture architecture) => CheckedArchitectures.Contains(architecture);

    /// <summary>Why <paramref name="component"/> cannot run on <paramref name="architecture"/>; null when it can.</summary>
    public static string? Refusal(Architecture architecture, string component)
        => IsChecked(architecture)
            ? null
            : $"{component} does not run on {architecture}: its libc and kernel constants and struct layouts (epoll_event, " +
              "msghdr, sock_fprog, tcp_info, errno, SO_* and ioctl numbers) are checked against the C headers of " +
              $"{string.Join(" and ", CheckedArchitectures)} only, and other architectures differ in some of them.";

    /// <summary>Throws <see cref="PlatformNotSupportedException"/> on an architecture that was not checked.</summary>
    /// <param name="component">What is starting, e.g. "The BpfSteer transport".</param>
    public static void ThrowIfUnchecked(string component)
    {
        if (Refusal(RuntimeInformation.ProcessArchitecture, component) is { } refusal)
        {
            throw new PlatformNotSupportedException(refusal);
        }
    }
}
