using System.Net;
using System.Text;
using Yarp.SockmapForwarder.Internal;

namespace Yarp.SockmapForwarder.Tests;

/// <summary>The headers against the byte layouts of haproxy's proxy-protocol.txt (sections 2.1 and 2.2), written out by hand.</summary>
public class ProxyProtocolHeaderTests
{
    [Fact]
    public void BuildV1_Ipv4_MatchesSpecExample()
    {
        var header = ProxyProtocolHeader.Build(ProxyProtocolVersion.V1, IPEndPoint.Parse("192.168.0.1:56324"), IPEndPoint.Parse("192.168.0.11:443"));

        Assert.Equal("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", Encoding.ASCII.GetString(header));
    }

    [Fact]
    public void BuildV1_Ipv6_UsesTcp6()
    {
        var header = ProxyProtocolHeader.Build(ProxyProtocolVersion.V1, IPEndPoint.Parse("[2001:db8::1]:40000"), IPEndPoint.Parse("[::1]:6380"));

        Assert.Equal("PROXY TCP6 2001:db8::1 ::1 40000 6380\r\n", Encoding.ASCII.GetString(header));
    }

    [Fact]
    public void BuildV1_UnknownEndpoints_WritesUnknown()
    {
        Assert.Equal("PROXY UNKNOWN\r\n", Encoding.ASCII.GetString(ProxyProtocolHeader.Build(ProxyProtocolVersion.V1, null, null)));
    }

    [Fact]
    public void BuildV2_Ipv4_IsByteExact()
    {
        var header = ProxyProtocolHeader.Build(ProxyProtocolVersion.V2, IPEndPoint.Parse("172.19.0.1:42578"), IPEndPoint.Parse("172.19.0.3:80"));

        byte[] expected =
        [
            0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, // signature
            0x21,                   // version 2, command PROXY
            0x11,                   // AF_INET, STREAM
            0x00, 0x0C,             // 12 address bytes follow
            172, 19, 0, 1,          // source address
            172, 19, 0, 3,          // destination address
            0xA6, 0x52,             // source port 42578
            0x00, 0x50,             // destination port 80
        ];
        Assert.Equal(expected, header);
    }

    [Fact]
    public void BuildV2_Ipv6_IsByteExact()
    {
        var header = ProxyProtocolHeader.Build(ProxyProtocolVersion.V2, IPEndPoint.Parse("[2001:db8::1]:1"), IPEndPoint.Parse("[::1]:258"));

        var expected = new List<byte> { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0x00, 0x24 };
        expected.AddRange([0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        expected.AddRange([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        expected.AddRange([0x00, 0x01, 0x01, 0x02]);
        Assert.Equal(expected, header);
    }

    [Fact]
    public void BuildV2_Ipv4MappedAddresses_WrittenAsIpv4()
    {
        var header = ProxyProtocolHeader.Build(ProxyProtocolVersion.V2, IPEndPoint.Parse("[::ffff:127.0.0.1]:5000"), IPEndPoint.Parse("[::ffff:127.0.0.2]:6000"));

        Assert.Equal(0x11, header[13]);
        Assert.Equal(16 + 12, header.Length);
        Assert.Equal(new byte[] { 127, 0, 0, 1, 127, 0, 0, 2, 0x13, 0x88, 0x17, 0x70 }, header[16..]);
    }

    [Fact]
    public void BuildV2_UnknownEndpoints_WritesLocalCommandWithoutAddresses()
    {
        var header = ProxyProtocolHeader.Build(ProxyProtocolVersion.V2, null, null);

        Assert.Equal(new byte[] { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00 }, header);
    }

    [Fact]
    public void Build_None_IsEmpty()
    {
        Assert.Empty(ProxyProtocolHeader.Build(ProxyProtocolVersion.None, IPEndPoint.Parse("1.2.3.4:5"), IPEndPoint.Parse("1.2.3.4:6")));
    }
}
