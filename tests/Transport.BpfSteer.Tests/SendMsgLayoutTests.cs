using System.Runtime.InteropServices;
using BpfSteer.Interop;

namespace Transport.BpfSteer.Tests;

/// <summary>The structs passed to sendmsg match the C headers of every architecture BpfSteer runs on.</summary>
public class SendMsgLayoutTests
{
    [Theory]
    [MemberData(nameof(CLayout.CheckedArchitectures), MemberType = typeof(CLayout))]
    public unsafe void MsgHdrAndIoVec_Sizes_MatchC(Architecture target)
    {
        var c = CLayout.Evaluate(target, "#include <sys/socket.h>\n#include <sys/uio.h>",
            "sizeof(struct msghdr)", "sizeof(struct iovec)", "offsetof(struct msghdr, msg_iov)", "offsetof(struct msghdr, msg_flags)");
        Assert.Equal(c[0], sizeof(Libc.MsgHdr));
        Assert.Equal(c[1], sizeof(Libc.IoVec));
        Assert.Equal(c[2], (long)System.Runtime.InteropServices.Marshal.OffsetOf<Libc.MsgHdr>(nameof(Libc.MsgHdr.Iov)));
        Assert.Equal(c[3], (long)System.Runtime.InteropServices.Marshal.OffsetOf<Libc.MsgHdr>(nameof(Libc.MsgHdr.Flags)));
    }
}
