[000h 0000   4]                    Signature : "XSDT"    [Extended System Description Table]
[004h 0004   4]                 Table Length : 0000002C
[008h 0008   1]                     Revision : 01
[009h 0009   1]                     Checksum : 69
[00Ah 0010   6]                       Oem ID : "TVISOR"
[010h 0016   8]                 Oem Table ID : "TVPCXSDT"
[018h 0024   4]                 Oem Revision : 00000001
[01Ch 0028   4]              Asl Compiler ID : "TVSR"
[020h 0032   4]        Asl Compiler Revision : 00000001

[024h 0036   8]       ACPI Table Address   0 : 00000000000E0160

Raw Table Data: Length 44 (0x2C)

    0000: 58 53 44 54 2C 00 00 00 01 69 54 56 49 53 4F 52  // XSDT,....iTVISOR
    0010: 54 56 50 43 58 53 44 54 01 00 00 00 54 56 53 52  // TVPCXSDT....TVSR
    0020: 01 00 00 00 60 01 0E 00 00 00 00 00              // ....`.......
