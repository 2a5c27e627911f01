using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libbpf;

namespace BpfSteer.Interop;

/// <summary>Look-ups in the running kernel's BTF (/sys/kernel/btf/vmlinux).</summary>
internal static class KernelBtf
{
    /// <summary>Whether the kernel's BTF has a function (kfunc) named <paramref name="name"/>.</summary>
    public static PosixResult TryFindFunction(string name)
    {
        using var btf = BtfLoadVmlinux();
        if (btf.IsInvalid)
        {
            return PosixResult.FromErrno(Marshal.GetLastPInvokeError());
        }
        var id = BtfFindByNameKind(btf, name, BTF_KIND_FUNC);
        return id < 0 ? PosixResult.FromErrno(-id) : new PosixResult(id);
    }
}
