namespace BpfSteer.Interop;

/// <summary>Native library names, in one place.</summary>
internal static class NativeLibraries
{
    internal const string Libc = "libc";
    internal const string Libbpf = "libbpf.so.1";
}
