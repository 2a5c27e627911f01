using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

/// <summary>Owns a libbpf <c>struct btf *</c>.</summary>
internal sealed class SafeBtfHandle : SafeHandle
{
    public SafeBtfHandle() : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        Libbpf.BtfFree(handle);
        return true;
    }
}
