// The DICOM shim: DCMTK (C++) behind the C interface of dicom.h.  It reads
// one file's header, checks every tag netdx relies on, and decodes the pixel
// data to raw stored words (decompressed by DCMTK's JPEG, JPEG-LS and RLE
// decoders); image.c does the arithmetic.  Every refusal names the file and
// the tag.  DCMTK's own logging is switched off: the library never prints.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "netdx.h"
#include "dicom.h"

namespace {

pthread_once_t codecs_once = PTHREAD_ONCE_INIT;

void register_codecs()
{
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
}

// The message into err; returns st.
int say(char *err, size_t n, int st, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int say(char *err, size_t n, int st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return st;
}

// A Part 10 file: a regular file with "DICM" after its 128-byte preamble;
// its size into *size.
int check_preamble(const char *path, off_t *size, char *err, size_t n)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return say(err, n, NDX_ERR_IO, "%s: %s", path, std::strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return say(err, n, NDX_ERR_IO, "%s: not a regular file", path);
    *size = sb.st_size;
    FILE *f = std::fopen(path, "rb");
    if (!f) return say(err, n, NDX_ERR_IO, "%s: %s", path, std::strerror(errno));
    unsigned char b[132];
    size_t got = std::fread(b, 1, sizeof b, f);
    std::fclose(f);
    if (got < sizeof b || std::memcmp(b + 128, "DICM", 4))
        return say(err, n, NDX_ERR_FORMAT, "%s: not a DICOM file: no \"DICM\" after the 128-byte "
                   "preamble (%zu bytes read)", path, got);
    return 0;
}

// Every element of ff (items and fragments too) declares a value no longer
// than the file (1032 times it for a deflated data set, zlib's greatest
// ratio): DCMTK loads a long value only when it is read, and then allocates
// the declared length first, so a 1 KB file declaring 4 GB would allocate
// 4 GB before finding the file short.
int check_lengths(DcmFileFormat &ff, off_t size, const char *path, char *err, size_t n)
{
    if (ff.getDataset()->getOriginalXfer() == EXS_DeflatedLittleEndianExplicit) size *= 1032;
    DcmObject *top = &ff;
    DcmStack st;
    while (top->nextObject(st, OFTrue).good()) {
        DcmObject *o = st.top();
        if (!o->isLeaf()) continue;   // items and sequences: their length is their elements'
        const Uint32 len = o->getLengthField();   // as declared: getLength() may load it
        if (len != DCM_UndefinedLength && (off_t)len > size)
            return say(err, n, NDX_ERR_FORMAT, "%s: (%04X,%04X) declares a value of %lu bytes, more "
                       "than the whole file (%lld bytes): truncated or damaged", path,
                       o->getGTag(), o->getETag(), (unsigned long)len, (long long)size);
    }
    return 0;
}

// A required unsigned short tag into *v.
int need_u16(DcmDataset *ds, const DcmTagKey &key, const char *name, Uint16 *v, const char *path,
             char *err, size_t n)
{
    if (ds->findAndGetUint16(key, *v).bad())
        return say(err, n, NDX_ERR_FORMAT, "%s: (%04X,%04X) %s is missing or not a number", path,
                   key.getGroup(), key.getElement(), name);
    return 0;
}

// The optional tags: rescale, window, spacing, laterality, view.
void optional_tags(DcmDataset *ds, ndx__dicom_info *d)
{
    Float64 v;
    d->slope = ds->findAndGetFloat64(DCM_RescaleSlope, v).good() && std::isfinite(v) && v != 0 ? v : 1;
    d->intercept = ds->findAndGetFloat64(DCM_RescaleIntercept, v).good() && std::isfinite(v) ? v : 0;
    Float64 c, w;
    d->has_window = ds->findAndGetFloat64(DCM_WindowCenter, c).good() &&
                    ds->findAndGetFloat64(DCM_WindowWidth, w).good() && std::isfinite(c) &&
                    std::isfinite(w) && w > 0;
    d->window_center = d->has_window ? c : 0;
    d->window_width = d->has_window ? w : 0;
    const struct { DcmTagKey key; const char *name; } sp[2] = {
        {DCM_PixelSpacing, "PixelSpacing"}, {DCM_ImagerPixelSpacing, "ImagerPixelSpacing"}};
    d->spacing_tag = "";
    for (int i = 0; i < 2 && !d->spacing_tag[0]; i++) {
        Float64 r, cl;
        if (ds->findAndGetFloat64(sp[i].key, r, 0).good() &&
            ds->findAndGetFloat64(sp[i].key, cl, 1).good() && r >= 0.001 && cl >= 0.001 && r < 100 &&
            cl < 100) {
            d->spacing_row = r, d->spacing_col = cl, d->spacing_tag = sp[i].name;
        }
    }
    OFString s;
    if (ds->findAndGetOFString(DCM_ImageLaterality, s).bad() || s.empty())
        ds->findAndGetOFString(DCM_Laterality, s);
    std::snprintf(d->laterality, sizeof d->laterality, "%s", s.c_str());
    s.clear();
    ds->findAndGetOFString(DCM_ViewPosition, s);
    std::snprintf(d->view, sizeof d->view, "%s", s.c_str());
}

// The image tags: size, samples, photometric, frames, bits.
int image_tags(DcmDataset *ds, ndx__dicom_info *d, const char *path, char *err, size_t n)
{
    Uint16 rows, cols, spp = 1, ba, bs, hb, pr = 0;
    int rc;
    if ((rc = need_u16(ds, DCM_Rows, "Rows", &rows, path, err, n)) ||
        (rc = need_u16(ds, DCM_Columns, "Columns", &cols, path, err, n)))
        return rc;
    if (!rows || !cols)
        return say(err, n, NDX_ERR_FORMAT, "%s: (0028,0010) Rows x (0028,0011) Columns is %ux%u",
                   path, rows, cols);
    ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
    OFString pi;
    ds->findAndGetOFString(DCM_PhotometricInterpretation, pi);
    if (spp != 1 || (pi != "MONOCHROME1" && pi != "MONOCHROME2"))
        return say(err, n, NDX_ERR_FORMAT, "%s: (0028,0004) PhotometricInterpretation is '%s' with "
                   "(0028,0002) SamplesPerPixel %u: a colour image; netdx reads grayscale "
                   "(MONOCHROME1 or MONOCHROME2, 1 sample) only", path, pi.c_str(), spp);
    Sint32 frames = 1;
    if (ds->tagExists(DCM_NumberOfFrames) && (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad() ||
                                              frames != 1))
        return say(err, n, NDX_ERR_FORMAT, "%s: (0028,0008) NumberOfFrames is %ld: several frames "
                   "(a tomosynthesis stack or a cine?); netdx reads one 2-D image per file", path,
                   (long)frames);
    if ((rc = need_u16(ds, DCM_BitsAllocated, "BitsAllocated", &ba, path, err, n)) ||
        (rc = need_u16(ds, DCM_BitsStored, "BitsStored", &bs, path, err, n)))
        return rc;
    if (ds->findAndGetUint16(DCM_HighBit, hb).bad()) hb = (Uint16)(bs - 1);
    ds->findAndGetUint16(DCM_PixelRepresentation, pr);
    if ((ba != 8 && ba != 16) || bs < 1 || bs > ba || hb + 1 < bs || hb >= ba || pr > 1)
        return say(err, n, NDX_ERR_FORMAT, "%s: (0028,0100) BitsAllocated %u, (0028,0101) BitsStored "
                   "%u, (0028,0102) HighBit %u, (0028,0103) PixelRepresentation %u: netdx reads 8 "
                   "or 16 bits allocated, 1 to 16 stored", path, ba, bs, hb, pr);
    d->rows = rows, d->cols = cols, d->bits_allocated = ba, d->bits_stored = bs;
    d->high_bit = hb, d->is_signed = pr, d->monochrome1 = pi == "MONOCHROME1";
    return 0;
}

// The transfer syntax: one DCMTK knows and can decode to native.
int check_syntax(DcmFileFormat &ff, ndx__dicom_info *d, const char *path, char *err, size_t n)
{
    OFString uid;
    ff.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid);
    std::snprintf(d->transfer_syntax, sizeof d->transfer_syntax, "%s", uid.c_str());
    E_TransferSyntax xs = ff.getDataset()->getOriginalXfer();
    DcmXfer x(xs);
    if (xs == EXS_Unknown)
        return say(err, n, NDX_ERR_FORMAT, "%s: (0002,0010) TransferSyntaxUID '%s' is not one DCMTK "
                   "knows", path, uid.c_str());
    if (x.isEncapsulated() && !DcmCodecList::canChangeCoding(xs, EXS_LittleEndianExplicit))
        return say(err, n, NDX_ERR_FORMAT, "%s: (0002,0010) TransferSyntaxUID %s (%s): no decoder "
                   "for it in this DCMTK (Debian's has JPEG, JPEG-LS and RLE, not JPEG 2000); "
                   "decompress the file first, e.g. gdcmconv --raw in.dcm out.dcm",
                   path, uid.c_str(), x.getXferName());
    return 0;
}

// What decoding left beside the bytes: how many the pixel data holds, and
// what went wrong (1: not decodable, 2: missing, 3: out of memory).
struct decoded {
    size_t have;
    int bad;
    char why[200];
    volatile int done;   // set last by the child: it finished, whatever waitpid can tell
};

// Decodes the pixel data and copies its first need bytes to buf.
void decode(DcmDataset *ds, const ndx__dicom_info *d, unsigned char *buf, size_t need, decoded *r)
{
    try {
        OFCondition c = ds->chooseRepresentation(EXS_LittleEndianExplicit, NULL);
        if (c.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit)) {
            r->bad = 1;
            std::snprintf(r->why, sizeof r->why, "%s", c.text());
            return;
        }
        DcmElement *el = NULL;
        if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el) {
            r->bad = 2;
            return;
        }
        Uint8 *b8 = NULL;
        Uint16 *b16 = NULL;
        c = d->bits_allocated == 8 ? el->getUint8Array(b8) : el->getUint16Array(b16);
        r->have = c.good() && (b8 || b16) ? el->getLength() : 0;
        if (c.bad()) std::snprintf(r->why, sizeof r->why, "%s", c.text());
        if (r->have >= need) std::memcpy(buf, b8 ? (const void *)b8 : (const void *)b16, need);
    } catch (const std::exception &) {
        r->bad = 3;
    }
}

// Waits up to 300 s for the child; 0 when it finished (its done flag: a
// caller that reaps children itself, or ignores SIGCHLD, leaves waitpid
// nothing to report), else the message.
int await_decoder(pid_t pid, const decoded *r, const ndx__dicom_info *d, const char *path, char *err,
                  size_t n)
{
    int status = 0;
    pid_t got = 0;
    for (long ms = 0; ms < 300000 && (got = waitpid(pid, &status, WNOHANG)) == 0; ms += 2) {
        const struct timespec t = {0, 2000000};
        nanosleep(&t, NULL);
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return say(err, n, NDX_ERR_FORMAT, "%s: (7FE0,0010) PixelData: DCMTK's %s decoder did not "
                   "finish in 300 s and was stopped: the compressed data are damaged?", path,
                   DcmXfer(d->transfer_syntax).getXferName());
    }
    if (r->done) return 0;
    if (got < 0 && errno != EINTR)
        return say(err, n, NDX_ERR_IO, "%s: waiting for the decoder: %s", path, std::strerror(errno));
    const int sig = got > 0 && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (sig == SIGKILL)
        return say(err, n, NDX_ERR_NOMEM, "%s: (7FE0,0010) PixelData: the decoding process was killed "
                   "(out of memory?)", path);
    return say(err, n, NDX_ERR_FORMAT, "%s: (7FE0,0010) PixelData: DCMTK's %s decoder died on it "
               "(%s): the compressed data are damaged", path, DcmXfer(d->transfer_syntax).getXferName(),
               sig ? strsignal(sig) : "a non-zero exit");
}

// DCMTK's JPEG-LS decoder (CharLS as Debian 12 builds it) stops the whole
// program with a failed assert() on some damaged streams, so compressed
// pixel data are decoded in a child process (into shared memory): its
// death is this file's error, not the caller's.
int decode_apart(DcmDataset *ds, const ndx__dicom_info *d, unsigned char *buf, size_t need,
                 decoded *r, const char *path, char *err, size_t n)
{
    const pid_t pid = fork();
    if (pid < 0) return say(err, n, errno == ENOMEM || errno == EAGAIN ? NDX_ERR_NOMEM : NDX_ERR_IO,
                            "%s: fork, to decode the pixel data: %s", path, std::strerror(errno));
    if (pid == 0) {
        for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, SIG_DFL);
        const int null = open("/dev/null", O_WRONLY);   // the assert's message: the library never prints
        if (null >= 0) dup2(null, 2);
        decode(ds, d, buf, need, r);
        r->done = 1;
        _exit(0);
    }
    return await_decoder(pid, r, d, path, err, n);
}

// What decode() reported, as the message naming the file and the tag.
int check_decoded(const decoded *r, size_t need, const char *path, char *err, size_t n)
{
    if (r->bad == 1)
        return say(err, n, NDX_ERR_FORMAT, "%s: (7FE0,0010) PixelData could not be decoded: %s", path, r->why);
    if (r->bad == 2) return say(err, n, NDX_ERR_FORMAT, "%s: (7FE0,0010) PixelData is missing", path);
    if (r->bad == 3) return say(err, n, NDX_ERR_NOMEM, "%s: out of memory decoding the pixel data", path);
    if (r->have < need)
        return say(err, n, NDX_ERR_FORMAT, "%s: (7FE0,0010) PixelData holds %zu bytes, (0028,0010) "
                   "Rows x (0028,0011) Columns x (0028,0100) BitsAllocated need %zu: the file is "
                   "truncated or damaged%s%s", path, r->have, need, r->why[0] ? ": " : "", r->why);
    return 0;
}

// The pixel data decoded into *px (rows x cols words).
int pixels(DcmDataset *ds, const ndx__dicom_info *d, uint16_t **px, const char *path, char *err,
           size_t n)
{
    const size_t np = (size_t)d->rows * d->cols, need = np * (size_t)(d->bits_allocated / 8);
    const size_t bytes = sizeof(decoded) + need;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return say(err, n, NDX_ERR_NOMEM, "%s: out of memory for %zu pixels", path, np);
    decoded *r = static_cast<decoded *>(m);
    unsigned char *buf = static_cast<unsigned char *>(m) + sizeof(decoded);
    int rc = 0;
    if (DcmXfer(ds->getOriginalXfer()).isEncapsulated()) rc = decode_apart(ds, d, buf, need, r, path, err, n);
    else decode(ds, d, buf, need, r);
    if (!rc) rc = check_decoded(r, need, path, err, n);
    if (!rc) {
        uint16_t *out = static_cast<uint16_t *>(std::malloc(np * sizeof *out));
        if (!out) rc = say(err, n, NDX_ERR_NOMEM, "%s: out of memory for %zu pixels", path, np);
        else if (d->bits_allocated == 8) for (size_t i = 0; i < np; i++) out[i] = buf[i];
        else std::memcpy(out, buf, need);
        *px = out;
    }
    munmap(m, bytes);
    return rc;
}

}   // namespace

extern "C" int ndx__dicom_load(const char *path, int64_t max_pixels, ndx__dicom_info *info,
                               uint16_t **px, char *err, size_t err_n)
{
    std::memset(info, 0, sizeof *info);
    info->spacing_tag = "";
    if (px) *px = NULL;
    off_t size = 0;
    int rc = check_preamble(path, &size, err, err_n);
    if (rc) return rc;
    try {
        pthread_once(&codecs_once, register_codecs);
        DcmFileFormat ff;
        OFCondition c = ff.loadFile(OFFilename(path), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                    ERM_fileOnly);
        if ((rc = check_lengths(ff, size, path, err, err_n))) return rc;
        if (c.bad()) {
            OFString uid;
            ff.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid);
            if (!uid.empty() && DcmXfer(uid.c_str()).getXfer() == EXS_Unknown)
                return say(err, err_n, NDX_ERR_FORMAT, "%s: (0002,0010) TransferSyntaxUID '%s' is not "
                           "one DCMTK knows", path, uid.c_str());
            DcmElement *pe = NULL;
            if (ff.getDataset()->findAndGetElement(DCM_PixelData, pe).good() && pe)
                return say(err, err_n, NDX_ERR_FORMAT, "%s: (7FE0,0010) PixelData: the file ends "
                           "inside it (it declares %lu bytes): truncated; DCMTK: %s", path,
                           (unsigned long)pe->getLength(), c.text());
            return say(err, err_n, NDX_ERR_FORMAT, "%s: not a readable DICOM file (truncated or "
                       "damaged?): DCMTK: %s", path, c.text());
        }
        DcmDataset *ds = ff.getDataset();
        if ((rc = image_tags(ds, info, path, err, err_n)) || (rc = check_syntax(ff, info, path, err, err_n)))
            return rc;
        optional_tags(ds, info);
        if (!ds->tagExists(DCM_PixelData))
            return say(err, err_n, NDX_ERR_FORMAT, "%s: (7FE0,0010) PixelData is missing", path);
        if (!px) return 0;
        if ((int64_t)info->rows * info->cols > max_pixels)
            return say(err, err_n, NDX_ERR_FORMAT, "%s: the DICOM declares %dx%d pixels (%.1f Mpixel), "
                       "more than the limit of %lld pixels; set NETDX_MAX_PIXELS to raise it", path,
                       info->cols, info->rows, (double)info->rows * info->cols / 1048576.0,
                       (long long)max_pixels);
        return pixels(ds, info, px, path, err, err_n);
    } catch (const std::exception &e) {
        return say(err, err_n, NDX_ERR_NOMEM, "%s: DCMTK failed: %s", path, e.what());
    }
}
