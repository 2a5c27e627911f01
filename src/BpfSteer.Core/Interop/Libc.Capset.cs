using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

internal static partial class Libc
{
    /// <summary>_LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.</summary>
    internal const uint LinuxCapabilityVersion3 = 0x20080522;

    [StructLayout(LayoutKind.Sequential)]
    internal struct CapUserHeader
    {
        public uint Version;
        public int Pid; // 0: the calling thread
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct CapUserData
    {
        public uint Effective;
        public uint Permitted;
        public uint Inheritable;
    }

    /// <summary>capget(2): capabilities are per thread; <paramref name="data"/> points to two entries (version 3).</summary>
    [LibraryImport(NativeLibraries.Libc, EntryPoint = "capget", SetLastError = true)]
    internal static unsafe partial int CapGet(CapUserHeader* header, CapUserData* data);

    /// <summary>capset(2) for the calling thread only.</summary>
    [LibraryImport(NativeLibraries.Libc, EntryPoint = "capset", SetLastError = true)]
    internal static unsafe partial int CapSet(CapUserHeader* header, CapUserData* data);
}
