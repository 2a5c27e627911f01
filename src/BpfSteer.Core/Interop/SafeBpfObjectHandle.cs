using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

/// <summary>Owns a libbpf <c>struct bpf_object *</c>; closing it unloads its programs and maps.</summary>
internal sealed class SafeBpfObjectHandle : SafeHandle
{
    public SafeBpfObjectHandle() : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        Libbpf.ObjectClose(handle);
        return true;
    }
}
