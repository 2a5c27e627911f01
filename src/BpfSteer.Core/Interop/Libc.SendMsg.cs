using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

internal static partial class Libc
{
    /// <summary>struct iovec (16 bytes on x64 and arm64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (56 bytes on x64 and arm64): name, iov and control pointers with their lengths, flags.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "sendmsg", SetLastError = true)]
    internal static unsafe partial nint SendMsg(SafeHandle socket, MsgHdr* message, int flags);
}
